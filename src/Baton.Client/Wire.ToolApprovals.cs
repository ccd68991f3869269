using System.Text.Json;

namespace Baton.Client;

/// <summary>
/// An agent's request to use a tool its phase lists in <c>tool_approvals</c> (ADR 31): pending until an approver
/// allows or denies it. <see cref="Message"/> is the approver's, given to the agent with the decision.
/// </summary>
public sealed record ToolApprovalInfo(
    string Id,
    string Tool,
    JsonElement Input,
    string Status,
    DateTimeOffset RequestedAt,
    string? DecidedBy,
    DateTimeOffset? DecidedAt,
    string? Message,
    string ExecutionId,
    string? Phase,
    int? Iteration);

/// <summary>An approver's decision: "allow" or "deny", and a message for the agent.</summary>
public sealed record ToolApprovalDecision(string? Decision, string? Message = null);

/// <summary>What an agent asks for (Claude Code's permission prompt: the tool's name, its input and the call's id).</summary>
public sealed record ToolApprovalRequest(string? ToolName, JsonElement? Input, string? ToolUseId = null);

public static class ToolApprovalStatuses
{
    public const string Pending = "pending";
    public const string Allowed = "allowed";
    public const string Denied = "denied";

    /// <summary>Still undecided when its execution ended (finished, failed, cancelled, lost): nobody waits for it any more, and it cannot be decided.</summary>
    public const string Expired = "expired";
}
