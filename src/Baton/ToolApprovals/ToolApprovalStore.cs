using System.Data;
using System.Text.Json;
using Baton.Client;
using Baton.Storage;
using Dapper;

namespace Baton.ToolApprovals;

public sealed class ToolApprovalRow
{
    public string Id { get; set; } = "";
    public string RunId { get; set; } = "";
    public string ExecutionId { get; set; } = "";
    public string? Phase { get; set; }
    public int? Iteration { get; set; }
    public string Tool { get; set; } = "";
    public string Input { get; set; } = "{}";
    public string? ToolUseId { get; set; }
    public string Status { get; set; } = ToolApprovalStatuses.Pending;
    public string? Message { get; set; }
    public long RequestedAt { get; set; }
    public string? DecidedBy { get; set; }
    public long? DecidedAt { get; set; }

    public ToolApprovalInfo ToInfo()
    {
        using var input = JsonDocument.Parse(Input);
        return new(Id, Tool, input.RootElement.Clone(), Status, Times.FromMs(RequestedAt), DecidedBy, Times.FromMs(DecidedAt), Message,
            ExecutionId, Phase, Iteration);
    }
}

/// <summary>The tool_approvals table (migration 0018): one row per request, decided once.</summary>
public static class ToolApprovalStore
{
    public static Task<ToolApprovalRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<ToolApprovalRow>("SELECT * FROM tool_approvals WHERE id = @id", new { id }, tx);

    public static Task<ToolApprovalRow?> FindByUseAsync(IDbConnection c, IDbTransaction? tx, string executionId, string toolUseId) =>
        c.QuerySingleOrDefaultAsync<ToolApprovalRow>(
            "SELECT * FROM tool_approvals WHERE execution_id = @executionId AND tool_use_id = @toolUseId", new { executionId, toolUseId }, tx);

    public static async Task<List<ToolApprovalRow>> OfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        (await c.QueryAsync<ToolApprovalRow>("SELECT * FROM tool_approvals WHERE run_id = @runId ORDER BY requested_at, id", new { runId }, tx)).ToList();

    /// <summary>
    /// Inserts the request; false when the same call (execution and tool_use_id) was inserted by a request that
    /// overlapped this one, whose row then stands (on PostgreSQL both found none before either committed).
    /// </summary>
    public static async Task<bool> InsertAsync(IDbConnection c, IDbTransaction tx, ToolApprovalRow row) =>
        await c.ExecuteAsync("""
            INSERT INTO tool_approvals (id, run_id, execution_id, phase, iteration, tool, input, tool_use_id, status, message, requested_at, decided_by, decided_at)
            VALUES (@Id, @RunId, @ExecutionId, @Phase, @Iteration, @Tool, @Input, @ToolUseId, @Status, @Message, @RequestedAt, @DecidedBy, @DecidedAt)
            ON CONFLICT (execution_id, tool_use_id) WHERE tool_use_id IS NOT NULL DO NOTHING
            """, row, tx) == 1;

    /// <summary>Decides a pending request; false when it was decided already (the first decision stands).</summary>
    public static async Task<bool> DecideAsync(IDbConnection c, IDbTransaction tx, string id, string status, string actor, string? message, long now) =>
        await c.ExecuteAsync("""
            UPDATE tool_approvals SET status = @status, decided_by = @actor, message = @message, decided_at = @now
            WHERE id = @id AND status = 'pending'
            """, new { id, status, actor, message, now }, tx) == 1;
}
