using System.Globalization;
using System.Text.RegularExpressions;
using Baton.Agents;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard.Components;
using Baton.Engine;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>The executions list and an execution's page (with cancel), and the workspaces list.</summary>
public static partial class AgentPages
{
    public static readonly string[] ExecutionStatuses = ["pending", "running", "success", "error", "cancelled"];
    public static readonly string[] WorkspaceStates = ["active", "deleted", "all"];
    private const int LogLines = 500;
    private const int MaxWorkspaces = 500;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/executions", ListAsync);
        pages.MapGet("/executions/{id}", DetailAsync);
        pages.MapPost("/executions/{id}/cancel", CancelAsync).RequireAuthorization(Roles.Operator);
        pages.MapGet("/workspaces", WorkspacesAsync);
    }

    private static async Task<IResult> ListAsync(Database db, string? status, string? worker, string? limit, string? offset)
    {
        var query = Paging.Parse(limit, offset);
        var notes = query.Notes.ToList();
        status = QueryText.Blank(status)?.Trim();
        worker = QueryText.Blank(worker)?.Trim();
        if (status is not null && !ExecutionStatuses.Contains(status))
        {
            notes.Insert(0, $"Unknown status '{status}'; showing every status. An execution is {string.Join(", ", ExecutionStatuses)}.");
            status = null;
        }
        var (rows, total, workers) = await db.ReadAsync(async c =>
        {
            var (rows, total) = await ExecutionStore.ListAsync(c, null, status, worker, query.Limit, query.Offset);
            // The configured workers rather than DISTINCT over every execution; the page adds the filter's own value
            // when it names a worker that is no longer configured.
            var workers = (await WorkerStore.NamesAsync(c, null)).ToList();
            return (rows, total, workers);
        });
        return DashboardPages.Render<ExecutionsPage>(new
        {
            Executions = rows,
            Total = total,
            Query = query,
            Status = status,
            Worker = worker,
            Workers = workers,
            Notes = notes,
        });
    }

    private static async Task<IResult> DetailAsync(string id, Database db, Runs.EventSequencer sequencer, TimeProvider time, CancellationToken ct)
    {
        // A finished execution's page shows its last log lines.
        await sequencer.CatchUpAsync(ct);
        return await RenderDetailAsync(id, db, time, null, 200);
    }

    private static async Task<IResult> RenderDetailAsync(string id, Database db, TimeProvider time, string? problem, int statusCode)
    {
        var loaded = await db.ReadAsync(async c =>
        {
            var row = await ExecutionStore.FindWithWorkItemAsync(c, null, id);
            if (row is null)
            {
                return null;
            }
            var worker = await WorkerStore.FindAsync(c, null, row.Worker);
            var logs = await LogsAsync(c, row, time.GetUtcNow());
            // Where the page's live stream starts: after what the page shows, so opening it replays nothing.
            var lastEvent = await Runs.EventLog.LastSeqOfRunAsync(c, null, row.RunId ?? row.Id);
            return new { row, worker = worker?.ToInfo(), logs, lastEvent };
        });
        if (loaded is null)
        {
            return DashboardPages.NotFound("Execution not found", $"There is no execution '{id}'. The executions list shows every execution.");
        }
        return DashboardPages.Render<ExecutionPage>(new { Execution = loaded.row, Worker = loaded.worker, Logs = loaded.logs, LastEvent = loaded.lastEvent, Problem = problem }, statusCode);
    }

    /// <summary>
    /// A standalone execution logs under its own id. A run's executions log under the run with the phase and
    /// iteration, so an attempt's lines are those of its phase and iteration between its start and its end.
    /// </summary>
    private static async Task<List<LogLine>> LogsAsync(System.Data.IDbConnection c, ExecutionRow row, DateTimeOffset now)
    {
        if (row.RunId is null)
        {
            return await Runs.EventLog.LogTailAsync(c, null, row.Id, LogLines, 0);
        }
        return await Runs.EventLog.AttemptLogAsync(c, null, row.RunId, row.Phase, row.Iteration, row.StartedAt ?? row.CreatedAt, row.CompletedAt ?? now.ToMs(), LogLines);
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunningExecutions running,
        EngineSignals signals, Runs.EventSequencer sequencer, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var owner = await db.ReadAsync(c => ExecutionStore.FindAsync(c, null, id));
        if (owner is null)
        {
            return DashboardPages.NotFound("Execution not found", $"There is no execution '{id}'.");
        }
        if (owner.RunId is { } runId)
        {
            return await RenderDetailAsync(id, db, time,
                $"This execution belongs to run {runId}; cancel the run on its page, which stops its execution.", 409);
        }
        var result = (await AgentRuntimeApi.CancelAsync(id, db, running, signals, sequencer, time, http.RequestAborted)).Result;
        return result switch
        {
            Ok<ExecutionInfo> => Results.Redirect($"/executions/{Uri.EscapeDataString(id)}"),
            ProblemHttpResult { StatusCode: 404 } => DashboardPages.NotFound("Execution not found", $"There is no execution '{id}'."),
            ProblemHttpResult problem => await RenderDetailAsync(id, db, time,
                $"Not cancelled: {problem.ProblemDetails.Detail}.", problem.StatusCode),
            _ => throw new InvalidOperationException($"unexpected cancel result {result.GetType().Name}"),
        };
    }

    private static async Task<IResult> WorkspacesAsync(Database db, string? state)
    {
        var notes = new List<string>();
        state = QueryText.Blank(state)?.Trim() ?? "active";
        if (!WorkspaceStates.Contains(state))
        {
            notes.Add($"Unknown state '{state}'; showing active workspaces. Choose active, deleted or all.");
            state = "active";
        }
        var rows = (await db.ReadAsync(c => Workspaces.WorkspaceStore.ListForPageAsync(c, null, state, MaxWorkspaces))).ToList();
        if (rows.Count == MaxWorkspaces)
        {
            notes.Add($"Showing the newest {MaxWorkspaces} workspaces only; baton workspace list shows every active one.");
        }
        return DashboardPages.Render<WorkspacesPage>(new { Workspaces = rows, State = state, Notes = notes });
    }

    /// <summary>
    /// The exit code of a command worker's program as its execution recorded it: 0 for a success, the code its
    /// error names ("x exited with code 3: ..."), else unknown (a timeout, a cancel, a model worker).
    /// </summary>
    public static int? ExitCode(string workerKind, string status, string? errorMessage) =>
        workerKind != WorkerKinds.Command ? null
        : status == "success" ? 0
        : status == "error" && errorMessage is not null && ExitedWith().Match(errorMessage) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : null;

    [GeneratedRegex(@"\bexited with code (-?\d{1,9})\b")]
    private static partial Regex ExitedWith();
}
