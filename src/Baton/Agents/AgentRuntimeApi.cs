using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Baton.Workspaces;
using Baton.Runs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Agents;

/// <summary>Standalone executions of a worker on a work item, and the workspaces they (and runs) work in.</summary>
public static class AgentRuntimeApi
{
    public const int MaxPromptBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapAgentRuntimeApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/agent-runtime").WithTags("Agent runtime").RequireAuthorization(Roles.Viewer);
        group.MapPost("/execute", ExecuteAsync).RequireAuthorization(Roles.Operator);
        group.MapGet("/executions/{id}", GetAsync);
        group.MapPost("/executions/{id}/cancel", CancelAsync).RequireAuthorization(Roles.Operator);
        group.MapGet("/executions/{id}/events", (string id, HttpContext http, Database db, Runs.EventFeed feed, TimeProvider time) =>
            Runs.EventStream.ForExecutionAsync(id, http, db, feed, time));
        group.MapGet("/workspaces", ListWorkspacesAsync);
        group.MapDelete("/workspaces/{id}", DeleteWorkspaceAsync).RequireAuthorization(Roles.Operator);
        return app;
    }

    public static async Task<Results<Created<ExecuteResponse>, ValidationProblem, ProblemHttpResult>> ExecuteAsync(
        ExecuteRequest? body, Database db, EngineSignals signals, TimeProvider time)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.WorkerId))
        {
            errors["worker_id"] = ["worker_id is required: the id or name of a worker"];
        }
        if (string.IsNullOrWhiteSpace(body?.WorkItemId))
        {
            errors["work_item_id"] = ["work_item_id is required"];
        }
        if (string.IsNullOrWhiteSpace(body?.Prompt))
        {
            errors["prompt"] = ["prompt is required: what the agent should do"];
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(body.Prompt) > MaxPromptBytes)
        {
            return Problems.TooLarge("prompt is larger than 1 MiB");
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var id = Ids.New("exe", time);
        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            var worker = await WorkerStore.FindAsync(c, tx, body!.WorkerId!);
            if (worker is null)
            {
                return Problems.NotFound("worker", body.WorkerId!);
            }
            if (worker.Kind is not (WorkerKinds.Command or WorkerKinds.OpenAi))
            {
                return (ProblemHttpResult?)TypedResults.Problem(statusCode: 400, title: "Invalid input", detail: $"worker '{worker.Name}' is a {worker.Kind} worker; standalone executions need a command or openai worker");
            }
            if (!await WorkItemStore.ExistsAsync(c, tx, body.WorkItemId!))
            {
                return Problems.NotFound("work item", body.WorkItemId!);
            }
            var now = time.GetUtcNow().ToMs();
            await ExecutionStore.CreateStandaloneAsync(c, tx, id, worker.Name, worker.Kind, body.WorkItemId!, body.Prompt!, now);
            await ExecutionEvents.AppendAsync(c, tx, id, ExecutionStatus.Pending, null, time.GetUtcNow());
            await JobQueue.EnqueueExecutionAsync(c, tx, id, worker.Name, now);
            return null;
        });
        if (outcome is not null)
        {
            return outcome;
        }
        signals.EventsCommitted();
        signals.Jobs.Wake();
        return TypedResults.Created($"/api/agent-runtime/executions/{id}", new ExecuteResponse(id));
    }

    public static async Task<Results<Ok<ExecutionInfo>, ProblemHttpResult>> GetAsync(string id, Database db, Runs.EventSequencer sequencer, CancellationToken ct)
    {
        // The execution's log lines committed with its status: a client that sees it ended sees all of them.
        await sequencer.CatchUpAsync(ct);
        var info = await db.ReadAsync(async c =>
        {
            var row = await ExecutionStore.FindAsync(c, null, id);
            if (row is null)
            {
                return null;
            }
            var workerId = await WorkerStore.IdOfAsync(c, null, row.Worker) ?? row.Worker;
            var logs = await Runs.EventLog.LogTailAsync(c, null, row.RunId ?? row.Id, 200, 0);
            return ToInfo(row, workerId, logs.Select(l => l.Message).ToList());
        }, ct);
        return info is null ? Problems.NotFound("execution", id) : TypedResults.Ok(info);
    }

    public static async Task<Results<Ok<ExecutionInfo>, ProblemHttpResult>> CancelAsync(
        string id, Database db, RunningExecutions running, EngineSignals signals, Runs.EventSequencer sequencer, TimeProvider time, CancellationToken ct)
    {
        var status = await db.WriteAsync(async (c, tx) =>
        {
            // The job first: a claim locks the job, then starts the execution; taking the two in the other order
            // deadlocks with it on PostgreSQL. Only a standalone execution has a job of its own, and an ended one none.
            await JobQueue.DeleteOfExecutionAsync(c, tx, id);
            var before = await ExecutionStore.CancelStandaloneAsync(c, tx, id, time.GetUtcNow().ToMs());
            if (before is ExecutionStatus.Pending or ExecutionStatus.Running)
            {
                await ExecutionEvents.AppendAsync(c, tx, id, ExecutionStatus.Cancelled, "cancelled", time.GetUtcNow());
            }
            return before;
        });
        switch (status)
        {
            case null:
                return Problems.NotFound("standalone execution", id);
            case "pending" or "running":
                // Recorded first, then stopped: the whole process tree is killed before this answers.
                await running.StopAsync(id, TimeSpan.FromSeconds(10));
                signals.EventsCommitted();
                signals.Jobs.Wake();
                return (await GetAsync(id, db, sequencer, ct)).Result switch
                {
                    Ok<ExecutionInfo> ok => ok,
                    var other => (ProblemHttpResult)other,
                };
            default:
                return Problems.Conflict($"execution '{id}' is {status}; only a pending or running execution can be cancelled", status);
        }
    }

    public static async Task<Ok<WorkspaceList>> ListWorkspacesAsync(Database db) =>
        TypedResults.Ok(new WorkspaceList((await db.ReadAsync(c => WorkspaceStore.ListActiveAsync(c, null))).Select(ToInfo).ToList()));

    public static async Task<Results<Ok<WorkspaceInfo>, ProblemHttpResult>> DeleteWorkspaceAsync(string id, Database db, GitWorkspaces workspaces, RunningExecutions running, CancellationToken ct)
    {
        var workspace = await db.ReadAsync(c => WorkspaceStore.FindActiveAsync(c, null, id), ct);
        if (workspace is null)
        {
            return Problems.NotFound("active workspace", id);
        }
        if (running.IsRunning(workspace.OwnerId))
        {
            return Problems.Conflict($"an agent is working in workspace '{id}' now; cancel {workspace.OwnerId} first", "in_use");
        }
        await workspaces.DeleteAsync(workspace, ct);
        workspace.Status = WorkspaceStatus.Deleted.Wire();
        return TypedResults.Ok(ToInfo(workspace));
    }

    public static WorkspaceInfo ToInfo(WorkspaceRow w) => new(w.Id, w.RepositoryId, w.OwnerId, w.Path, w.Branch, w.Status, Times.FromMs(w.CreatedAt));

    private static ExecutionInfo ToInfo(ExecutionRow r, string workerId, IReadOnlyList<string> logs) => new(
        r.Id, workerId, r.WorkItemId, null, r.Status, r.ErrorMessage, ToOutput(r, logs),
        r.DurationMs, r.TokensIn + r.TokensOut, r.CostUnknown ? null : (decimal)r.CostUsd, r.ToolCalls,
        Times.FromMs(r.CreatedAt), Times.FromMs(r.StartedAt), Times.FromMs(r.CompletedAt));

    /// <summary>
    /// Seed 003's output. Tests ran when a check ran (or, for an execution recorded before check exit codes were kept,
    /// when it reported counts); they passed when the check exited 0 and none of those it reported failed.
    /// </summary>
    public static ExecutionOutput ToOutput(ExecutionRow r, IReadOnlyList<string> logs)
    {
        var counts = r.TestsRun is { } total ? new TestCounts(total, r.TestsPassed ?? 0, total - (r.TestsPassed ?? 0)) : null;
        var testsRun = r.CheckExitCode is not null || counts is not null;
        var testsPassed = testsRun && (r.CheckExitCode is null or 0) && counts is not { Failed: > 0 };
        var paths = r.ChangedPaths is { } json ? System.Text.Json.JsonSerializer.Deserialize<List<string>>(json) ?? [] : [];
        return new ExecutionOutput(r.Summary, paths, testsRun, testsPassed, counts, logs, r.Diff);
    }
}
