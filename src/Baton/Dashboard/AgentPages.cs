using System.Globalization;
using System.Text.RegularExpressions;
using Baton.Agents;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard.Components;
using Baton.Engine;
using Baton.Storage;
using Dapper;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>An execution as the pages show it: in a run's phase or standalone, with its outcome and usage.</summary>
public sealed class ExecutionRecord
{
    public string Id { get; set; } = "";
    public string? RunId { get; set; }
    public string? Phase { get; set; }
    public int? Iteration { get; set; }
    public string? WorkItemId { get; set; }
    public string? WorkItemTitle { get; set; }
    public string Worker { get; set; } = "";
    public string WorkerKind { get; set; } = "";
    public string Status { get; set; } = "";
    public string? ErrorMessage { get; set; }
    public string? Prompt { get; set; }
    public string? Summary { get; set; }
    public int? FilesChanged { get; set; }
    public int? TestsRun { get; set; }
    public int? TestsPassed { get; set; }
    public string? Diff { get; set; }
    public long CreatedAt { get; set; }
    public long? StartedAt { get; set; }
    public long? CompletedAt { get; set; }
    public long? DurationMs { get; set; }
    public long TokensIn { get; set; }
    public long TokensOut { get; set; }
    public double CostUsd { get; set; }
    public int ToolCalls { get; set; }

    public bool IsActive => Status is "pending" or "running";

    /// <summary>How long it ran, or has been running by <paramref name="now"/>; null before it started.</summary>
    public TimeSpan? Elapsed(DateTimeOffset now) =>
        DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms)
        : StartedAt is { } started && Status == "running" ? now - Times.FromMs(started)
        : null;
}

/// <summary>A workspace with its repository and whether its owner is a run or a standalone execution.</summary>
public sealed class WorkspaceRecord
{
    public string Id { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public bool OwnerIsRun { get; set; }
    public string Path { get; set; } = "";
    public string Branch { get; set; } = "";
    public string Status { get; set; } = "";
    public string RepositoryId { get; set; } = "";
    public string? RepositoryName { get; set; }
    public string? RepositoryUrl { get; set; }
    public long CreatedAt { get; set; }
    public long? DeletedAt { get; set; }
}

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
            var filter = new { status, worker, take = query.Limit, skip = query.Offset };
            var rows = (await c.QueryAsync<ExecutionRecord>(ExecutionListSql(status, worker), filter)).ToList();
            var total = await c.ExecuteScalarAsync<long>(ExecutionCountSql(status, worker), filter);
            // The configured workers rather than DISTINCT over every execution; the page adds the filter's own value
            // when it names a worker that is no longer configured.
            var workers = (await c.QueryAsync<string>("SELECT name FROM workers ORDER BY name")).ToList();
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

    internal static string ExecutionListSql(string? status, string? worker) => $"""
        SELECT id, run_id, phase, iteration, work_item_id, worker, worker_kind, status, error_message, created_at, started_at,
               completed_at, duration_ms, tokens_in, tokens_out, cost_usd
        FROM executions{ExecutionFilter(status, worker)}
        ORDER BY created_at DESC, id DESC LIMIT @take OFFSET @skip
        """;

    internal static string ExecutionCountSql(string? status, string? worker) => $"SELECT COUNT(*) FROM executions{ExecutionFilter(status, worker)}";

    /// <summary>
    /// The WHERE clause of the executions list with only the filters given, so each query can use its
    /// (filter, created_at, id) index; "@x IS NULL OR col = @x" can use none.
    /// </summary>
    private static string ExecutionFilter(string? status, string? worker)
    {
        var conditions = new List<string>();
        if (status is not null)
        {
            conditions.Add("status = @status");
        }
        if (worker is not null)
        {
            conditions.Add("worker = @worker");
        }
        return conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", conditions);
    }

    private static Task<IResult> DetailAsync(string id, Database db, TimeProvider time) => RenderDetailAsync(id, db, time, null, 200);

    private static async Task<IResult> RenderDetailAsync(string id, Database db, TimeProvider time, string? problem, int statusCode)
    {
        var loaded = await db.ReadAsync(async c =>
        {
            var row = await c.QuerySingleOrDefaultAsync<ExecutionRecord>(
                """
                SELECT e.*, w.title AS work_item_title FROM executions e LEFT JOIN work_items w ON w.id = e.work_item_id WHERE e.id = @id
                """, new { id });
            if (row is null)
            {
                return null;
            }
            var worker = await WorkersApi.FindAsync(c, null, row.Worker);
            var logs = await LogsAsync(c, row, time.GetUtcNow());
            return new { row, worker = worker is null ? null : WorkersApi.ToInfo(worker), logs };
        });
        if (loaded is null)
        {
            return DashboardPages.NotFound("Execution not found", $"There is no execution '{id}'. The executions list shows every execution.");
        }
        return DashboardPages.Render<ExecutionPage>(new { Execution = loaded.row, Worker = loaded.worker, Logs = loaded.logs, Problem = problem }, statusCode);
    }

    /// <summary>
    /// A standalone execution logs under its own id. A run's executions log under the run with the phase and
    /// iteration, so an attempt's lines are those of its phase and iteration between its start and its end.
    /// </summary>
    private static async Task<List<LogLine>> LogsAsync(System.Data.IDbConnection c, ExecutionRecord row, DateTimeOffset now)
    {
        if (row.RunId is null)
        {
            return await Runs.RunLogs.TailAsync(c, row.Id, LogLines);
        }
        return await Runs.EventLog.AttemptLogAsync(c, null, row.RunId, row.Phase, row.Iteration, row.StartedAt ?? row.CreatedAt, row.CompletedAt ?? now.ToMs(), LogLines);
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunningExecutions running,
        EngineSignals signals, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var owner = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<(string Id, string? RunId)?>(
            "SELECT id, run_id FROM executions WHERE id = @id", new { id }));
        if (owner is null)
        {
            return DashboardPages.NotFound("Execution not found", $"There is no execution '{id}'.");
        }
        if (owner.Value.RunId is { } runId)
        {
            return await RenderDetailAsync(id, db, time,
                $"This execution belongs to run {runId}; cancel the run on its page, which stops its execution.", 409);
        }
        var result = (await AgentRuntimeApi.CancelAsync(id, db, running, signals, time)).Result;
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
        var rows = await db.ReadAsync(async c =>
        {
            var found = (await c.QueryAsync<WorkspaceRecord>(
                """
                SELECT w.id, w.owner_id, w.path, w.branch, w.status, w.repository_id,
                       repo.name AS repository_name, repo.url AS repository_url, w.created_at, w.deleted_at
                FROM workspaces w
                LEFT JOIN repositories repo ON repo.id = w.repository_id
                WHERE @state = 'all' OR w.status = @state
                ORDER BY w.created_at DESC, w.id DESC
                LIMIT @MaxWorkspaces
                """, new { state, MaxWorkspaces })).ToList();
            // Whether an owner is a run (else a standalone execution) is the runs table's to say.
            var runs = await Runs.RunStore.ExistingAsync(c, null, found.Select(w => w.OwnerId).Distinct().ToList());
            found.ForEach(w => w.OwnerIsRun = runs.Contains(w.OwnerId));
            return found;
        });
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
