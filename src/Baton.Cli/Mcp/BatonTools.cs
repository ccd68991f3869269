using System.ComponentModel;
using System.Text.Json;
using Baton.Cli.Commands;
using Baton.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Baton.Cli.Mcp;

/// <summary>
/// The tools `baton mcp` offers AI assistants. Each is one API call made with the key `baton mcp` was started
/// with, so an assistant can do exactly what that key's role allows; a refusal (403, 404, 409 ...) comes back as a
/// tool error with the same one-line message the CLI prints. Parameter names are snake_case like the API's JSON,
/// because they are the tools' wire contract.
/// </summary>
[McpServerToolType]
public sealed class BatonTools(BatonClient client, Connection connection)
{
    [McpServerTool(Name = "list_runs", Title = "List runs", ReadOnly = true, Idempotent = true)]
    [Description("List Baton runs, newest first, with their status, current phase and cost. Returns {runs, total, limit, offset}.")]
    public Task<CallToolResult> ListRunsAsync(
        [Description("Only runs in this status: pending, running, awaiting_approval, paused, completed, failed, cancelled or expired")] string? status = null,
        [Description("Only runs of this profile")] string? profile = null,
        [Description("Only runs of this project")] string? project = null,
        [Description("How many runs, 1 to 200")] int limit = 20,
        [Description("How many to skip, for the next page")] int offset = 0,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.ListRunsAsync(status, profile, project, limit, offset, cancellationToken));

    [McpServerTool(Name = "show_run", Title = "Show a run", ReadOnly = true, Idempotent = true)]
    [Description("One run in full: status, waiting_for, phases with their gates, intake, cost and its version (pass it as expected_version to act only on what you saw).")]
    public Task<CallToolResult> ShowRunAsync(
        [Description("The run id (run_...)")] string run_id,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.GetRunAsync(run_id, cancellationToken));

    [McpServerTool(Name = "list_inbox", Title = "List the decisions waiting for this key", ReadOnly = true, Idempotent = true)]
    [Description("The open gates and budget stops this key may decide now, oldest first, with age and expiry (approve_run or reject_run them).")]
    public Task<CallToolResult> ListInboxAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => client.GetInboxAsync(cancellationToken));

    [McpServerTool(Name = "list_profiles", Title = "List profiles", ReadOnly = true, Idempotent = true)]
    [Description("The profiles (workflows) runs can be created from, with their phases.")]
    public Task<CallToolResult> ListProfilesAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => client.ListProfilesAsync(cancellationToken));

    [McpServerTool(Name = "create_run", Title = "Create a run", Destructive = false, ReadOnly = false)]
    [Description("Start a run of a profile on an intake (a PRD, mission or ticket). Returns the new run; it proceeds on its own until a gate needs a human.")]
    public Task<CallToolResult> CreateRunAsync(
        [Description("The profile name, e.g. software_delivery (see list_profiles)")] string profile,
        [Description("The intake text the run works from (markdown is fine)")] string intake,
        [Description("The project the run belongs to")] string? project_name = null,
        [Description("auto (default of most profiles) or manual (pauses after each phase)")] string? mode = null,
        [Description("Budget in US dollars; the run stops for approval before exceeding it")] decimal? budget_usd = null,
        CancellationToken cancellationToken = default) =>
        // One key per call, so a retried request cannot start a second run.
        CallAsync(() => client.CreateRunAsync(new CreateRunRequest(profile, intake, project_name, mode, budget_usd), "mcp-" + Guid.NewGuid().ToString("N"), cancellationToken));

    // The decisions are destructive: they change what a run does next and cannot be taken back, so a client that
    // asks a person before destructive calls asks before an assistant approves or rejects in their name.
    [McpServerTool(Name = "approve_run", Title = "Approve a run's gate", Destructive = true, ReadOnly = false)]
    [Description("Approve the gate (or budget stop) a run is waiting at (status awaiting_approval). Needs the approver role, and the gate's approvers and self_approval policy. A gate with a form (show_run: gate.inputs) needs its required fields in `inputs`.")]
    public Task<CallToolResult> ApproveRunAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("A note kept with the approval")] string? comment = null,
        [Description("Act only if the run is still at this version (from show_run); otherwise the call fails with a conflict")] long? expected_version = null,
        [Description("The gate's digest as reviewed (show_run: gate.digest); if what waits at the gate changed since, the call fails with a conflict")] string? digest = null,
        [Description("The gate form's values by field name, e.g. {\"ticket\": \"CHG-42\", \"hours\": 2}, typed as gate.inputs says")] Dictionary<string, JsonElement>? inputs = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.ApproveAsync(run_id, new ApproveRequest(comment, digest, inputs), expected_version, cancellationToken));

    [McpServerTool(Name = "reject_run", Title = "Reject a run's gate with feedback", Destructive = true, ReadOnly = false)]
    [Description("Reject the gate a run is waiting at: the feedback goes to the agent and the phase (or an earlier one) runs again as a new iteration. Needs the approver role.")]
    public Task<CallToolResult> RejectRunAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("What the agent should change")] string feedback,
        [Description("The phase to go back to, among the gate's reject_to (default: the first)")] string? reject_to = null,
        [Description("Act only if the run is still at this version (from show_run)")] long? expected_version = null,
        [Description("The gate's digest as reviewed (show_run: gate.digest); if what waits at the gate changed since, the call fails with a conflict")] string? digest = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.RejectAsync(run_id, new RejectRequest(feedback, reject_to, digest), expected_version, cancellationToken));

    [McpServerTool(Name = "cancel_run", Title = "Cancel a run", Destructive = true, ReadOnly = false)]
    [Description("Cancel a run for good: its running agent is stopped and it ends as cancelled. Needs the operator role.")]
    public Task<CallToolResult> CancelRunAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("Why, for the event log")] string? reason = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.CancelAsync(run_id, reason, null, cancellationToken));

    [McpServerTool(Name = "retry_run", Title = "Retry a failed or cancelled run", Destructive = true, ReadOnly = false)]
    [Description("Run a failed or cancelled run again as a new iteration: from the phase that failed, or from an earlier phase given, whose later work is then discarded from the workspace. Needs the operator role.")]
    public Task<CallToolResult> RetryRunAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("The phase to run again from (default: the one that failed); its later work is discarded")] string? from_phase = null,
        [Description("Act only if the run is still at this version (from show_run)")] long? expected_version = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.RetryAsync(run_id, new RetryRequest(from_phase), expected_version, cancellationToken));

    [McpServerTool(Name = "fork_run", Title = "Fork a run at a phase", Destructive = false, ReadOnly = false)]
    [Description("Start a new run from an existing one: it keeps the phases before at_phase (their artifacts and gate decisions) and starts at at_phase, on the same intake or a new one. Returns the new run (parent_run_id, forked_at_phase). Needs the operator role.")]
    public Task<CallToolResult> ForkRunAsync(
        [Description("The run id to fork (run_...)")] string run_id,
        [Description("The phase the new run starts at; the phases before it are kept")] string at_phase,
        [Description("A new intake for the new run (default: the parent's)")] string? intake = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.ForkRunAsync(run_id, new ForkRunRequest(at_phase, intake), "mcp-" + Guid.NewGuid().ToString("N"), cancellationToken));

    [McpServerTool(Name = "list_artifacts", Title = "List a run's artifacts", ReadOnly = true, Idempotent = true)]
    [Description("The artifacts a run's phases produced, grouped by phase and iteration (names for read_artifact).")]
    public Task<CallToolResult> ListArtifactsAsync(
        [Description("The run id (run_...)")] string run_id,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.ListArtifactsAsync(run_id, cancellationToken));

    [McpServerTool(Name = "read_artifact", Title = "Read an artifact", ReadOnly = true, Idempotent = true)]
    [Description("The content of one artifact of a run (prd.md, tech_spec.md, diff.patch ...): the newest iteration, or the one given.")]
    public Task<CallToolResult> ReadArtifactAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("The artifact name, e.g. tech_spec.md (see list_artifacts)")] string name,
        [Description("Which iteration's version (default: the newest)")] int? iteration = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.GetArtifactAsync(run_id, name, iteration, cancellationToken));

    [McpServerTool(Name = "tail_logs", Title = "Tail a run's log", ReadOnly = true, Idempotent = true)]
    [Description("The last lines of a run's log: what its phases and agents wrote.")]
    public Task<CallToolResult> TailLogsAsync(
        [Description("The run id (run_...)")] string run_id,
        [Description("How many of the last lines, 1 to 10000")] int lines = 50,
        CancellationToken cancellationToken = default) =>
        CallAsync(() => client.GetLogsAsync(run_id, lines, cancellationToken));

    /// <summary>
    /// The API's answer as the tool's text (its JSON; an artifact's content as it is), and its refusals and network
    /// failures as tool errors whose one-line message the assistant can act on.
    /// </summary>
    private async Task<CallToolResult> CallAsync<T>(Func<Task<T>> call)
    {
        string text;
        try
        {
            var result = await call();
            text = result as string ?? JsonSerializer.Serialize(result, BatonJson.Options);
        }
        catch (Exception e) when (e is BatonApiException or HttpRequestException or JsonException
            || e is TaskCanceledException { InnerException: TimeoutException })
        {
            return new CallToolResult { IsError = true, Content = [new TextContentBlock { Text = ClientCommand.Describe(e, connection).Message }] };
        }
        return new CallToolResult { Content = [new TextContentBlock { Text = text }] };
    }
}
