namespace Baton.Client;

// Tool approvals (ADR 31): an approver decides; an agent asks and waits with its execution's own key.
public sealed partial class BatonClient
{
    /// <summary>Allows or denies an agent's pending tool use (approver role).</summary>
    public Task<ToolApprovalInfo> DecideToolApprovalAsync(string runId, string approvalId, ToolApprovalDecision decision, CancellationToken ct = default) =>
        CreateAsync<ToolApprovalInfo>($"api/runs/{Escape(runId)}/tool-approvals/{Escape(approvalId)}", decision, ct);

    /// <summary>An agent asks to use a tool (with its execution's key): the request, pending or already decided.</summary>
    public Task<ToolApprovalInfo> RequestToolApprovalAsync(string executionId, ToolApprovalRequest request, CancellationToken ct = default) =>
        CreateAsync<ToolApprovalInfo>($"api/agent-runtime/executions/{Escape(executionId)}/tool-approvals", request, ct);

    /// <summary>The request once decided, or still pending after the server waited up to <paramref name="waitSeconds"/>.</summary>
    public Task<ToolApprovalInfo> WaitForToolApprovalAsync(string executionId, string approvalId, int waitSeconds, CancellationToken ct = default) =>
        GetAsync<ToolApprovalInfo>($"api/agent-runtime/executions/{Escape(executionId)}/tool-approvals/{Escape(approvalId)}?wait={waitSeconds}", ct);
}
