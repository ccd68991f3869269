using System.Data;
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
    public string? WorkItemId { get; set; }
    public string Status { get; set; } = "";
    public string? ErrorMessage { get; set; }
    public string? Prompt { get; set; }
    public int? Pid { get; set; }
    public long CreatedAt { get; set; }
    public long? StartedAt { get; set; }
    public long? CompletedAt { get; set; }
    public long? DurationMs { get; set; }
    public long TokensIn { get; set; }
    public long TokensOut { get; set; }
    public double CostUsd { get; set; }
    public int ToolCalls { get; set; }
    public int? TestsRun { get; set; }
    public int? TestsPassed { get; set; }
    public string? Summary { get; set; }
    public int? FilesChanged { get; set; }
    public string? Diff { get; set; }
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

    /// <summary>A phase's execution, running from its start.</summary>
    public static Task StartPhaseAsync(IDbConnection c, IDbTransaction tx, string id, string runId, string phase, int iteration, string worker, string workerKind, long now) =>
        c.ExecuteAsync(
            """
            INSERT INTO executions(id, run_id, phase, iteration, worker, worker_kind, status, created_at, started_at)
            VALUES (@id, @runId, @phase, @iteration, @worker, @workerKind, 'running', @now, @now)
            """, new { id, runId, phase, iteration, worker, workerKind, now }, tx);

    /// <summary>A standalone execution, pending until its job is claimed.</summary>
    public static Task CreateStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, string worker, string workerKind, string workItemId, string prompt, long now) =>
        c.ExecuteAsync(
            """
            INSERT INTO executions(id, worker, worker_kind, status, work_item_id, prompt, created_at)
            VALUES (@id, @worker, @workerKind, 'pending', @workItemId, @prompt, @now)
            """, new { id, worker, workerKind, workItemId, prompt, now }, tx);

    /// <summary>A pending standalone execution starts.</summary>
    public static Task StartStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, long now) =>
        c.ExecuteAsync("UPDATE executions SET status = 'running', started_at = @now WHERE id = @id AND status = 'pending'", new { id, now }, tx);

    public static Task RecordPidAsync(IDbConnection c, IDbTransaction tx, string id, int pid) =>
        c.ExecuteAsync("UPDATE executions SET pid = @pid WHERE id = @id", new { id, pid }, tx);

    /// <summary>
    /// Ends the phase's executions still running (left so by a crash, a lost lease or an engine error) as errors;
    /// returns them with the agent process each recorded.
    /// </summary>
    public static async Task<List<(string Id, int? Pid)>> EndRunningOfPhaseAsync(IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, string error, long now) =>
        (await c.QueryAsync<(string Id, int? Pid)>(
            """
            UPDATE executions SET status = 'error', error_message = @error, completed_at = @now, duration_ms = @now - started_at
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration AND status = 'running'
            RETURNING id, pid
            """, new { runId, phase, iteration, error, now }, tx)).ToList();

    /// <summary>Ends a pending or running execution as an error; false when it had ended already.</summary>
    public static async Task<bool> EndWithErrorAsync(IDbConnection c, IDbTransaction tx, string id, string error, long now) =>
        await c.ExecuteAsync(
            """
            UPDATE executions SET status = 'error', error_message = @error, completed_at = @now,
                duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE @now - started_at END
            WHERE id = @id AND status IN ('pending', 'running')
            """, new { id, error, now }, tx) == 1;

    /// <summary>Cancels a pending or running standalone execution; returns its status before, or null when there is none.</summary>
    public static async Task<string?> CancelStandaloneAsync(IDbConnection c, IDbTransaction tx, string id, long now)
    {
        var status = await c.ExecuteScalarAsync<string?>("SELECT status FROM executions WHERE id = @id AND run_id IS NULL", new { id }, tx);
        if (status is ExecutionStatus.Pending or ExecutionStatus.Running)
        {
            await c.ExecuteAsync(
                """
                UPDATE executions SET status = 'cancelled', error_message = 'cancelled', completed_at = @now,
                    duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE @now - started_at END
                WHERE id = @id
                """, new { id, now }, tx);
        }
        return status;
    }

    /// <summary>A cancelled run's open executions.</summary>
    public static Task CancelOpenOfRunAsync(IDbConnection c, IDbTransaction tx, string runId, long now) =>
        c.ExecuteAsync(
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
        c.ExecuteAsync(
            """
            UPDATE executions SET status = @status, error_message = @Error, completed_at = @now, duration_ms = @durationMs,
                tokens_in = @TokensIn, tokens_out = @TokensOut, cost_usd = @cost, tool_calls = @ToolCalls, summary = @summary,
                files_changed = @files, diff = @diff, tests_run = @testsRun, tests_passed = @testsPassed
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
                r.Usage.ToolCalls,
                summary = r.Outcome?.Summary,
                files = r.Commit?.FilesChanged,
                diff = r.Commit?.Diff,
                testsRun = r.Check?.TestsRun,
                testsPassed = r.Check?.TestsPassed,
                id,
            }, tx);
}
