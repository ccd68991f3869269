using System.Security.Claims;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.ToolApprovals;

/// <summary>
/// Tool approvals (ADR 31). An agent (its `baton mcp`, with the execution's own key) asks to use a tool its phase lists
/// in `tool_approvals` and waits; an approver allows or denies it. Each request and decision is a row and an event.
/// </summary>
public static class ToolApprovalsApi
{
    public const int MaxMessageChars = 4_000;
    public const int MaxToolNameChars = 128;
    public const int MaxInputBytes = 64 * 1024;

    /// <summary>The longest one wait may take; the agent's side asks again while the request is pending.</summary>
    public const int MaxWaitSeconds = 60;

    public static IEndpointRouteBuilder MapToolApprovalsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/runs/{id}/tool-approvals/{approvalId}", DecideAsync).WithTags("Runs").RequireAuthorization(Roles.Approver);
        // The agent's side: its execution's key, checked here, never an API key.
        var agent = app.MapGroup("/api/agent-runtime/executions/{id}/tool-approvals").WithTags("Agent runtime").AllowAnonymous();
        agent.MapPost("/", RequestAsync);
        agent.MapGet("/{approvalId}", WaitAsync);
        return app;
    }

    public static async Task<Results<Ok<ToolApprovalInfo>, ValidationProblem, ProblemHttpResult>> DecideAsync(
        string id, string approvalId, ToolApprovalDecision? body, ClaimsPrincipal user, Database db, EngineSignals signals, TimeProvider time)
    {
        var status = body?.Decision switch
        {
            "allow" => ToolApprovalStatuses.Allowed,
            "deny" => ToolApprovalStatuses.Denied,
            _ => null,
        };
        if (status is null)
        {
            return Problems.Invalid("decision", "decision must be \"allow\" or \"deny\"");
        }
        if (body!.Message is { Length: > MaxMessageChars })
        {
            return Problems.Invalid("message", $"message is longer than {MaxMessageChars} characters");
        }
        var outcome = await ApplyDecisionAsync(db, signals, time, id, approvalId, status, user.Actor(), body.Message);
        return outcome.Problem is { } problem ? problem : TypedResults.Ok(outcome.Row!.ToInfo());
    }

    /// <summary>
    /// Decides a pending request of run <paramref name="runId"/> (the API's and the dashboard's way): the row and its
    /// event in one transaction, then the agent's wait is woken.
    /// </summary>
    public static async Task<(ToolApprovalRow? Row, ProblemHttpResult? Problem)> ApplyDecisionAsync(
        Database db, EngineSignals signals, TimeProvider time, string runId, string approvalId, string status, string actor, string? message)
    {
        var now = time.GetUtcNow();
        var outcome = await db.WriteAsync<(ToolApprovalRow? Row, ProblemHttpResult? Problem)>(async (c, tx) =>
        {
            var row = await ToolApprovalStore.FindAsync(c, tx, approvalId);
            if (row is null || row.RunId != runId)
            {
                return (null, await RunStore.LoadAsync(c, tx, runId) is null ? Problems.NotFound("run", runId) : Problems.NotFound("tool approval", approvalId));
            }
            if (!await ToolApprovalStore.DecideAsync(c, tx, row.Id, status, actor, message, now.ToMs()))
            {
                // Read again: the execution may have ended since the row was read.
                var current = await ToolApprovalStore.FindAsync(c, tx, row.Id) ?? row;
                return (null, current.Status == ToolApprovalStatuses.Expired
                    ? Problems.Conflict($"tool approval '{approvalId}' has expired: {current.Message}", current.Status)
                    : Problems.Conflict($"tool approval '{approvalId}' is {current.Status} already", current.Status));
            }
            await EventLog.AppendAsync(c, tx, row.RunId, new RunEvent("tool_approval.decided", row.Phase, row.Iteration, actor,
                new Dictionary<string, object?>
                {
                    ["approval_id"] = row.Id, ["tool"] = row.Tool, ["execution_id"] = row.ExecutionId,
                    ["decision"] = status, ["message"] = message,
                }), now);
            return (await ToolApprovalStore.FindAsync(c, tx, row.Id), null);
        });
        if (outcome.Problem is null)
        {
            // Wakes the agent's wait (on every node: the events pulse is broadcast).
            signals.EventsCommitted();
        }
        return outcome;
    }

    public static async Task<Results<Ok<ToolApprovalInfo>, ValidationProblem, ProblemHttpResult>> RequestAsync(
        string id, ToolApprovalRequest? body, HttpContext http, AgentKeys keys, Database db, RunTransitions transitions, EngineSignals signals, TimeProvider time)
    {
        if (!keys.Authorizes(http.Request.Headers.Authorization, id))
        {
            return Unauthorized(id);
        }
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.ToolName) || body.ToolName.Length > MaxToolNameChars)
        {
            errors["tool_name"] = [$"tool_name is required: the tool's name, at most {MaxToolNameChars} characters"];
        }
        if (body?.Input is { } given && given.ValueKind != JsonValueKind.Object)
        {
            errors["input"] = ["input must be a JSON object: the tool's input"];
        }
        if (body?.ToolUseId is { Length: > MaxToolNameChars })
        {
            errors["tool_use_id"] = [$"tool_use_id is longer than {MaxToolNameChars} characters"];
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var input = body!.Input is { } i ? i.GetRawText() : "{}";
        if (System.Text.Encoding.UTF8.GetByteCount(input) > MaxInputBytes)
        {
            return Problems.TooLarge($"input is larger than {MaxInputBytes / 1024} KiB");
        }
        var now = time.GetUtcNow();
        var outcome = await db.WriteAsync<(ToolApprovalRow? Row, ProblemHttpResult? Problem)>(async (c, tx) =>
        {
            var execution = await ExecutionStore.FindAsync(c, tx, id);
            if (execution is not { RunId: { } runId, Status: ExecutionStatus.Running })
            {
                return (null, Problems.Conflict($"execution '{id}' is not a running phase execution", execution?.Status));
            }
            if (body.ToolUseId is { } useId && await ToolApprovalStore.FindByUseAsync(c, tx, id, useId) is { } asked)
            {
                return (asked, null);
            }
            var run = await RunStore.LoadAsync(c, tx, runId);
            var phase = run is null ? null : (await transitions.ProfileOfAsync(c, tx, run)).Phase(execution.Phase ?? "");
            var row = new ToolApprovalRow
            {
                Id = Ids.New("tap", time), RunId = runId, ExecutionId = id, Phase = execution.Phase, Iteration = execution.Iteration,
                Tool = body.ToolName!, Input = input, ToolUseId = body.ToolUseId, RequestedAt = now.ToMs(),
            };
            var events = new EventBatch();
            events.Add(runId, new RunEvent("tool_approval.requested", row.Phase, row.Iteration, "agent",
                new Dictionary<string, object?> { ["approval_id"] = row.Id, ["tool"] = row.Tool, ["execution_id"] = id }), now);
            // A tool the phase does not list is refused at once, as Claude Code refuses it with nobody to ask; the
            // row says why, so the run shows what its agent tried.
            if (phase?.ToolApprovals.Contains(row.Tool, StringComparer.Ordinal) != true)
            {
                (row.Status, row.DecidedBy, row.DecidedAt) = (ToolApprovalStatuses.Denied, "baton", now.ToMs());
                row.Message = $"{row.Tool} is not in the phase's tool_approvals ({string.Join(", ", phase?.ToolApprovals ?? [])}); nobody was asked";
                events.Add(runId, new RunEvent("tool_approval.decided", row.Phase, row.Iteration, "baton",
                    new Dictionary<string, object?>
                    {
                        ["approval_id"] = row.Id, ["tool"] = row.Tool, ["execution_id"] = id, ["decision"] = row.Status, ["message"] = row.Message,
                    }), now);
            }
            if (!await ToolApprovalStore.InsertAsync(c, tx, row))
            {
                // The same call, asked twice at once: the request that got there first is the one, with its events.
                return (await ToolApprovalStore.FindByUseAsync(c, tx, id, row.ToolUseId!), null);
            }
            await events.WriteAsync(c, tx);
            return (row, null);
        });
        if (outcome.Problem is not null)
        {
            return outcome.Problem;
        }
        signals.EventsCommitted();
        return TypedResults.Ok(outcome.Row!.ToInfo());
    }

    /// <summary>
    /// The request once decided, or still pending after <paramref name="wait"/> seconds (at most <see cref="MaxWaitSeconds"/>).
    /// The wait holds nothing but this request: no transaction, no lease (ADR 31).
    /// </summary>
    public static async Task<Results<Ok<ToolApprovalInfo>, ValidationProblem, ProblemHttpResult>> WaitAsync(
        string id, string approvalId, string? wait, HttpContext http, AgentKeys keys, Database db, EngineSignals signals, TimeProvider time, CancellationToken ct)
    {
        if (!keys.Authorizes(http.Request.Headers.Authorization, id))
        {
            return Unauthorized(id);
        }
        var seconds = 0;
        if (wait is not null && (!int.TryParse(wait, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out seconds) || seconds > MaxWaitSeconds))
        {
            return Problems.Invalid("wait", $"wait must be a whole number of seconds from 0 to {MaxWaitSeconds}");
        }
        var deadline = time.GetUtcNow().AddSeconds(seconds);
        while (true)
        {
            // Taken before the read: a decision committed between the read and the wait still wakes it.
            var decided = signals.Events.Current;
            var row = await db.ReadAsync(c => ToolApprovalStore.FindAsync(c, null, approvalId), ct);
            if (row is null || row.ExecutionId != id)
            {
                return Problems.NotFound("tool approval", approvalId);
            }
            if (row.Status == ToolApprovalStatuses.Expired)
            {
                return Problems.Conflict($"tool approval '{approvalId}' has expired: {row.Message}; nobody waits for it any more", row.Status);
            }
            if (row.Status != ToolApprovalStatuses.Pending)
            {
                return TypedResults.Ok(row.ToInfo());
            }
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return TypedResults.Ok(row.ToInfo());
            }
            try
            {
                await decided.WaitAsync(left, time, ct);
            }
            catch (TimeoutException)
            {
                // Read once more: the answer is the request as it is now.
            }
        }
    }

    private static ProblemHttpResult Unauthorized(string id) =>
        TypedResults.Problem(statusCode: 401, title: "Unauthorized", detail: $"this needs the key Baton gave execution '{id}'s agent");
}
