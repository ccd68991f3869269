using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

/// <summary>An execution's status, as the `executions.status` column spells it.</summary>
public static class ExecutionStatus
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Success = "success";
    public const string Error = "error";
    public const string Cancelled = "cancelled";
}

public sealed class ExecutionRow
{
    public string Id { get; set; } = "";
    public string? RunId { get; set; }
    public string? Phase { get; set; }
    public int? Iteration { get; set; }
    public string Worker { get; set; } = "";
    public string WorkerKind { get; set; } = "";
    public string? WorkItemId { get; set; }

    /// <summary>Read only by <see cref="ExecutionStore.FindWithWorkItemAsync"/>.</summary>
    public string? WorkItemTitle { get; set; }
    public string Status { get; set; } = "";
    public string? ErrorMessage { get; set; }
    public string? Prompt { get; set; }
    public int? Pid { get; set; }

    /// <summary>The node that started it (BATON_NODE_ID); null when started before nodes had ids.</summary>
    public string? NodeId { get; set; }
    public long CreatedAt { get; set; }
    public long? StartedAt { get; set; }
    public long? CompletedAt { get; set; }
    public long? DurationMs { get; set; }
    public long TokensIn { get; set; }
    public long TokensOut { get; set; }
    public double CostUsd { get; set; }

    /// <summary>Some of its tokens have no price (ADR 28): <see cref="CostUsd"/> is only the known part.</summary>
    public bool CostUnknown { get; set; }
    public int ToolCalls { get; set; }
    public int? TestsRun { get; set; }
    public int? TestsPassed { get; set; }
    public string? Summary { get; set; }
    public int? FilesChanged { get; set; }

    /// <summary>The changed paths as a JSON array of strings (the first <see cref="Workspaces.GitWorkspaces.MaxChangedPaths"/>); null without a commit.</summary>
    public string? ChangedPaths { get; set; }

    /// <summary>The exit code of the phase's check; null when none ran.</summary>
    public int? CheckExitCode { get; set; }
    public string? Diff { get; set; }

    public bool IsActive => Status is ExecutionStatus.Pending or ExecutionStatus.Running;

    /// <summary>How long it ran, or has been running by <paramref name="now"/>; null before it started.</summary>
    public TimeSpan? Elapsed(DateTimeOffset now) =>
        DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms)
        : StartedAt is { } started && Status == ExecutionStatus.Running ? now - Times.FromMs(started)
        : null;
}

public sealed class PhaseTotals
{
    public string Phase { get; set; } = "";
    public int Iterations { get; set; }
    public int Executions { get; set; }
    public long TokensIn { get; set; }
    public long TokensOut { get; set; }
    public double CostUsd { get; set; }
    public long DurationMs { get; set; }
    public int ToolCalls { get; set; }
    public int TestsRun { get; set; }
    public int TestsPassed { get; set; }

    /// <summary>Executions whose cost nobody knows (ADR 28): the phase's cost is then only the known part.</summary>
    public int UnpricedExecutions { get; set; }
}

/// <summary>
/// The `executions` table: one row per attempt of an agent, a phase's (with a run) or a standalone one (with a work
/// item and a prompt). Every kind goes through the same statuses: pending (standalone, until claimed), running, then
/// success, error or cancelled.
/// </summary>
public static class ExecutionStore
{
    public static Task<ExecutionRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<ExecutionRow>("SELECT * FROM executions WHERE id = @id", new { id }, tx);

    /// <summary>A standalone execution's status (null: no such standalone execution): what its stream checks on every batch.</summary>
    public static Task<string?> StandaloneStatusAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<string?>("SELECT status FROM executions WHERE id = @id AND run_id IS NULL", new { id }, tx);

    /// <summary>An execution with the title of its work item, for its page.</summary>
    public static Task<ExecutionRow?> FindWithWorkItemAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<ExecutionRow>(
            "SELECT e.*, w.title AS work_item_title FROM executions e LEFT JOIN work_items w ON w.id = e.work_item_id WHERE e.id = @id",
            new { id }, tx);

    /// <summary>A page of executions, newest first, with only the filters given, and how many match.</summary>
    public static async Task<(List<ExecutionRow> Rows, long Total)> ListAsync(IDbConnection c, IDbTransaction? tx, string? status, string? worker, int take, int skip)
    {
        var filter = new { status, worker, take, skip };
        var rows = (await c.QueryAsync<ExecutionRow>(ListSql(status, worker), filter, tx)).ToList();
        return (rows, await c.ExecuteScalarAsync<long>(CountSql(status, worker), filter, tx));
    }

    internal static string ListSql(string? status, string? worker) => $"""
        SELECT id, run_id, phase, iteration, work_item_id, worker, worker_kind, status, error_message, created_at, started_at,
               completed_at, duration_ms, tokens_in, tokens_out, cost_usd, cost_unknown
        FROM executions{Filter(status, worker)}
        ORDER BY created_at DESC, id DESC LIMIT @take OFFSET @skip
        """;

    internal static string CountSql(string? status, string? worker) => $"SELECT COUNT(*) FROM executions{Filter(status, worker)}";

    /// <summary>
    /// The WHERE clause of the executions list with only the filters given, so each query can use its
    /// (filter, created_at, id) index; "@x IS NULL OR col = @x" can use none.
    /// </summary>
    private static string Filter(string? status, string? worker)
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

    /// <summary>A run's executions summed by phase (its metrics).</summary>
    public static async Task<List<PhaseTotals>> PhaseTotalsOfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        (await c.QueryAsync<PhaseTotals>(
            """
            SELECT phase, COUNT(DISTINCT iteration) AS iterations, COUNT(*) AS executions,
                   SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, SUM(cost_usd) AS cost_usd,
                   COALESCE(SUM(duration_ms), 0) AS duration_ms, SUM(tool_calls) AS tool_calls,
                   COALESCE(SUM(tests_run), 0) AS tests_run, COALESCE(SUM(tests_passed), 0) AS tests_passed,
                   COUNT(CASE WHEN cost_unknown THEN 1 END) AS unpriced_executions
            FROM executions WHERE run_id = @runId GROUP BY phase
            """, new { runId }, tx)).ToList();

    /// <summary>A phase's execution, running from its start.</summary>
    public static Task StartPhaseAsync(IDbConnection c, IDbTransaction tx, string id, string runId, string phase, int iteration, string worker, string workerKind, string nodeId, long now) =>
        c.DeferAsync(
            """
            INSERT INTO executions(id, run_id, phase, iteration, worker, worker_kind, status, created_at, started_at, node_id)
            VALUES (@id, @runId, @phase, @iteration, @worker, @workerKind, 'running', @now, @now, @nodeId)
            """, new { id, runId, phase, iteration, worker, workerKind, nodeId, now }, tx);

    /// <summary>A standalone execution, pending until its job is claimed.</summary>
    public static Task CreateStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, string worker, string workerKind, string workItemId, string prompt, long now) =>
        c.ExecuteAsync(
            """
            INSERT INTO executions(id, worker, worker_kind, status, work_item_id, prompt, created_at)
            VALUES (@id, @worker, @workerKind, 'pending', @workItemId, @prompt, @now)
            """, new { id, worker, workerKind, workItemId, prompt, now }, tx);

    /// <summary>A pending standalone execution starts.</summary>
    public static Task StartStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, string nodeId, long now) =>
        c.DeferAsync("UPDATE executions SET status = 'running', started_at = @now, node_id = @nodeId WHERE id = @id AND status = 'pending'", new { id, nodeId, now }, tx);

    public static Task RecordPidAsync(IDbConnection c, IDbTransaction tx, string id, int pid) =>
        c.ExecuteAsync("UPDATE executions SET pid = @pid WHERE id = @id", new { id, pid }, tx);

    /// <summary>
    /// Ends the phase's executions still running (left so by a crash, a lost lease or an engine error) as errors;
    /// returns them with the agent process each recorded and the node that ran it.
    /// </summary>
    public static async Task<List<(string Id, int? Pid, string? NodeId)>> EndRunningOfPhaseAsync(IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, string error, long now) =>
        (await c.QueryAsync<(string Id, int? Pid, string? NodeId)>(
            """
            UPDATE executions SET status = 'error', error_message = @error, completed_at = @now, duration_ms = @now - started_at
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration AND status = 'running'
            RETURNING id, pid, node_id
            """, new { runId, phase, iteration, error, now }, tx)).ToList();

    /// <summary>
    /// The executions <paramref name="nodeId"/> ran that were recorded as lost, with their agent's process: a node
    /// that took one over could not stop its agent (a pid of another node), so the node that ran it does at start-up.
    /// </summary>
    public static async Task<List<(string Id, string? RunId, int Pid)>> LostOnNodeAsync(IDbConnection c, string nodeId) =>
        (await c.QueryAsync<(string Id, string? RunId, int Pid)>(
            "SELECT id, run_id, pid FROM executions WHERE node_id = @nodeId AND status = 'error' AND error_message = 'worker lost' AND pid IS NOT NULL",
            new { nodeId })).ToList();

    /// <summary>Ends a pending or running execution as an error; false when it had ended already.</summary>
    public static async Task<bool> EndWithErrorAsync(IDbConnection c, IDbTransaction tx, string id, string error, long now) =>
        await c.ExecuteAsync(
            """
            UPDATE executions SET status = 'error', error_message = @error, completed_at = @now,
                duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE @now - started_at END
            WHERE id = @id AND status IN ('pending', 'running')
            """, new { id, error, now }, tx) == 1;

    /// <summary>
    /// Cancels a pending or running standalone execution; returns its status before, or null when there is none. The
    /// row is locked as it is read, so of two cancels at once the second sees the first's 'cancelled' (the caller
    /// deletes the execution's job first, which already makes them take turns while it has one).
    /// </summary>
    public static async Task<string?> CancelStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, long now)
    {
        var status = await c.ExecuteScalarAsync<string?>(
            $"SELECT status FROM executions WHERE id = @id AND run_id IS NULL{SqlDialect.Of(c).ForUpdate}", new { id }, tx);
        if (status is ExecutionStatus.Pending or ExecutionStatus.Running)
        {
            await c.ExecuteAsync(
                """
                UPDATE executions SET status = 'cancelled', error_message = 'cancelled', completed_at = @now,
                    duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE @now - started_at END
                WHERE id = @id AND status IN ('pending', 'running')
                """, new { id, now }, tx);
        }
        return status;
    }

    /// <summary>A cancelled run's open executions.</summary>
    public static Task CancelOpenOfRunAsync(IDbConnection c, IDbTransaction tx, string runId, long now) =>
        c.DeferAsync(
            """
            UPDATE executions SET status = 'cancelled', error_message = 'run cancelled', completed_at = @now,
                duration_ms = @now - COALESCE(started_at, created_at)
            WHERE run_id = @runId AND status IN ('pending', 'running')
            """, new { runId, now }, tx);

    /// <summary>How many of the run's executions succeeded: what a budget's spend per phase is measured by.</summary>
    public static Task<int> CountSucceededAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM executions WHERE run_id = @runId AND status = 'success'", new { runId }, tx);

    /// <summary>Records how an attempt ended, for every kind of execution, after its job's fence.</summary>
    public static Task FinishAsync(IDbConnection c, IDbTransaction tx, string id, AttemptResult r, long durationMs, long now) =>
        c.DeferAsync(
            """
            UPDATE executions SET status = @status, error_message = @Error, completed_at = @now, duration_ms = @durationMs,
                tokens_in = @TokensIn, tokens_out = @TokensOut, cost_usd = @cost, cost_unknown = @CostUnknown, tool_calls = @ToolCalls, summary = @summary,
                files_changed = @files, changed_paths = @paths, diff = @diff, check_exit_code = @checkExitCode,
                tests_run = @testsRun, tests_passed = @testsPassed
            WHERE id = @id
            """,
            new
            {
                status = r.Error is null ? ExecutionStatus.Success : ExecutionStatus.Error,
                r.Error,
                now,
                durationMs,
                r.Usage.TokensIn,
                r.Usage.TokensOut,
                cost = (double)r.Usage.CostUsd,
                r.Usage.CostUnknown,
                r.Usage.ToolCalls,
                summary = r.Outcome?.Summary,
                files = r.Commit?.FilesChanged,
                paths = r.Commit is { } commit ? System.Text.Json.JsonSerializer.Serialize(commit.Paths) : null,
                checkExitCode = r.Check?.ExitCode,
                diff = r.Commit?.Diff,
                testsRun = r.Check?.TestsRun,
                testsPassed = r.Check?.TestsPassed,
                id,
            }, tx);
}
