using System.ComponentModel;
using System.Text.Json;
using Baton.Cli.Commands;
using Baton.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Baton.Cli.Mcp;

/// <summary>
/// The one tool `baton mcp --execution ID` offers the agent Baton started (ADR 31): Claude Code's permission prompt
/// (`--permission-prompt-tool mcp__baton__approve_tool`). It records the request on the run and waits, asking again
/// while it is pending, until an approver decides; then it answers in Claude Code's permission-prompt format.
/// </summary>
[McpServerToolType]
public sealed class AgentTools(BatonClient client, Connection connection, AgentExecution execution)
{
    /// <summary>How long one wait asks the server to hold the request: under the client's 60 s request timeout.</summary>
    private const int WaitSeconds = 25;

    [McpServerTool(Name = "approve_tool", Title = "Ask a human to approve a tool use", ReadOnly = false, Destructive = false)]
    [Description("Claude Code's permission prompt: asks Baton's approvers whether the agent may use this tool with this input, and waits for their decision.")]
    public async Task<CallToolResult> ApproveToolAsync(
        [Description("The tool the agent wants to use, e.g. Bash")] string tool_name,
        [Description("The tool's input, e.g. {\"command\": \"npm test\"}")] JsonElement input,
        [Description("The agent's id of this tool call")] string? tool_use_id = null,
        CancellationToken cancellationToken = default)
    {
        ToolApprovalInfo approval;
        try
        {
            approval = await client.RequestToolApprovalAsync(execution.Id, new ToolApprovalRequest(tool_name, input, tool_use_id), cancellationToken);
            while (approval.Status == ToolApprovalStatuses.Pending)
            {
                approval = await client.WaitForToolApprovalAsync(execution.Id, approval.Id, WaitSeconds, cancellationToken);
            }
        }
        catch (Exception e) when (e is BatonApiException or HttpRequestException or JsonException
            || e is TaskCanceledException { InnerException: TimeoutException })
        {
            // No answer is a refusal: the tool is never used unapproved.
            return Answer(new { behavior = "deny", message = "Baton could not get a decision: " + ClientCommand.Describe(e, connection, null).Message });
        }
        return approval.Status == ToolApprovalStatuses.Allowed
            ? Answer(new { behavior = "allow", updatedInput = input })
            : Answer(new { behavior = "deny", message = $"{tool_name} was denied by {approval.DecidedBy ?? "an approver"}" + (approval.Message is { Length: > 0 } m ? ": " + m : "") });
    }

    private static CallToolResult Answer(object decision) =>
        new() { Content = [new TextContentBlock { Text = JsonSerializer.Serialize(decision) }] };
}

/// <summary>The execution `baton mcp --execution` serves.</summary>
public sealed record AgentExecution(string Id);
