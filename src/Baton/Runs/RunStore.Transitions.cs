using System.Data;
using System.Text;
using Baton.Engine;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>The writes of run transitions and phase starts to `runs` and `phase_runs`.</summary>
public static partial class RunStore
{
    /// <summary>
    /// The run's row without its intake: every transition loads it, some twice. In a write transaction the row is
    /// locked until the commit, so that what is decided on it stays true (several writers, ADR 25).
    /// </summary>
    public static async Task<RunRow?> LoadAsync(IDbConnection c, IDbTransaction? tx, string runId)
    {
        using var rows = await Rows.ReadAsync(c, tx,
            $"SELECT {RunRow.Columns} FROM runs WHERE id = @runId{(tx is null ? "" : SqlDialect.Of(c).ForUpdate)}",
            new Dictionary<string, object?> { ["runId"] = runId });
        return rows.Read() ? RunRow.Read(rows) : null;
    }

    /// <summary>
    /// <see cref="LoadAsync"/> as a query of its own inside a larger statement (several writers only): the row of the run
    /// whose id <paramref name="runIdOf"/> gives (a scalar subquery), locked. Its columns are <see cref="RunRow.Columns"/>.
    /// </summary>
    public static string LockedRowOf(string runIdOf) => $"SELECT {RunRow.Columns} FROM runs WHERE id = {runIdOf} FOR UPDATE";

    /// <summary>The source of a profile version a run was created with.</summary>
    public static Task<string> ProfileSourceAsync(IDbConnection c, IDbTransaction? tx, string hash) =>
        c.QuerySingleAsync<string>("SELECT source FROM profile_versions WHERE hash = @hash", new { hash }, tx);

    /// <summary>
    /// Writes a transition's run state, guarded by the version it was decided on: when someone else changed the run in
    /// between, the write ends with <see cref="ConcurrencyConflictException"/> (on PostgreSQL from its next round trip,
    /// ADR 53). That cannot happen under SQLite's single writer, nor after a read of the run FOR UPDATE; elsewhere it
    /// turns a lost race into a 409 instead of a silent overwrite.
    /// </summary>
    public static Task ApplyTransitionAsync(IDbConnection c, IDbTransaction tx, RunRow run, Transition t, long nowMs) =>
        c.DeferCheckedAsync(
            """
            UPDATE runs SET status = @status, current_phase = @CurrentPhase, iteration = @Iteration, wait_reason = @wait,
                error = @Error, budget_approved = @BudgetApproved, iteration_base = @IterationBase,
                resume_phase = @ResumePhase, resume_feedback = @ResumeFeedback, updated_at = @nowMs,
                completed_at = CASE WHEN @terminal THEN @nowMs ELSE NULL END, version = version + 1
            WHERE id = @id AND version = @version
            """,
            new
            {
                status = t.Status.Wire(),
                t.CurrentPhase,
                t.Iteration,
                wait = t.Wait?.Wire(),
                t.Error,
                t.BudgetApproved,
                t.IterationBase,
                t.ResumePhase,
                t.ResumeFeedback,
                nowMs,
                terminal = t.Status.IsTerminal(),
                id = run.Id,
                version = run.Version,
            },
            tx, expectedRows: 1, () => new ConcurrencyConflictException(run.Id));

    /// <summary>A run's phase started outside a transition (its first phase, a retry): the run changed now.</summary>
    public static Task TouchAsync(IDbConnection c, IDbTransaction tx, string runId, long nowMs) =>
        c.DeferAsync("UPDATE runs SET updated_at = @nowMs WHERE id = @runId", new { runId, nowMs }, tx);

    /// <summary>Adds an execution's spend to its run's totals; a cost unknown in part makes the run's unknown in part (ADR 28).</summary>
    public static Task AddUsageAsync(IDbConnection c, IDbTransaction tx, string runId, decimal costUsd, long tokens, bool costUnknown = false) =>
        c.DeferAsync(
            $"UPDATE runs SET cost_usd = cost_usd + @cost, tokens_used = tokens_used + @tokens{(costUnknown ? ", cost_unknown = @costUnknown" : "")} WHERE id = @runId",
            new { cost = (double)costUsd, tokens, costUnknown, runId }, tx);

    /// <summary>
    /// A phase run starts one more attempt; returns what that attempt works from. When the claim of its job has read and
    /// locked the row already (<paramref name="locked"/>, several writers, ADR 55), that is known without an answer: the
    /// update is held back to go with the start's other writes, a round trip fewer.
    /// </summary>
    public static async Task<(string? Feedback, string? ValidationSkippedBy, int Attempts)> StartPhaseRunAsync(
        IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, long nowMs, LockedPhaseRun? locked = null)
    {
        const string start = """
            UPDATE phase_runs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, @nowMs), error = NULL
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration
            """;
        var key = new { runId, phase, iteration, nowMs };
        if (locked is not null)
        {
            // Not a checked write (ADR 53), which would go alone before the COMMIT: the row is this transaction's lock.
            await c.DeferAsync(start, key, tx);
            return (locked.PhaseRunFeedback, locked.PhaseRunValidationSkippedBy, locked.PhaseRunAttempts + 1);
        }
        return await c.QuerySingleAsync<(string? Feedback, string? ValidationSkippedBy, int Attempts)>(
            start + " RETURNING feedback, validation_skipped_by, attempts", key, tx);
    }

    /// <summary>
    /// The phase run of the job a claim leases, as a query of its own inside the claim's statement (several writers
    /// only): its row, locked (FOR UPDATE reads the newest version, whatever the statement's snapshot) after its run's,
    /// the order every writer takes them in, since <paramref name="runIdOf"/> reads the run's locked row first. Its
    /// columns are <see cref="LockedPhaseRun"/>'s.
    /// </summary>
    public static string LockedPhaseRunOf(string runIdOf, string phaseOf, string iterationOf) =>
        $"""
        SELECT attempts AS phase_run_attempts, feedback AS phase_run_feedback, validation_skipped_by AS phase_run_validation_skipped_by
        FROM phase_runs WHERE run_id = {runIdOf} AND phase = {phaseOf} AND iteration = {iterationOf} FOR UPDATE
        """;

    /// <summary>A phase run waits for its retry, with the error that ended its last attempt.</summary>
    public static Task RetryPhaseRunAsync(IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, string? error) =>
        c.DeferAsync("UPDATE phase_runs SET status = 'pending', error = @error WHERE run_id = @runId AND phase = @phase AND iteration = @iteration",
            new { runId, phase, iteration, error }, tx);

    /// <summary>A cancelled run's phase runs that had not ended.</summary>
    public static Task CancelOpenPhaseRunsAsync(IDbConnection c, IDbTransaction tx, string runId, long nowMs) =>
        c.DeferAsync(
            "UPDATE phase_runs SET status = 'cancelled', completed_at = @nowMs WHERE run_id = @runId AND status IN ('pending', 'running', 'awaiting_approval')",
            new { runId, nowMs }, tx);

    /// <summary>
    /// The transition's phase runs in one statement. The phase of <paramref name="taken"/> starts running (one more
    /// attempt, its last error cleared), and its row comes back; null fields of a change keep what is stored.
    /// </summary>
    public static async Task<(string? Feedback, string? ValidationSkippedBy, int Attempts)?> UpsertPhaseRunsAsync(
        IDbConnection c, IDbTransaction tx, string runId, Profile profile, IReadOnlyList<PhaseChange> phases, JobRow? taken, long nowMs, bool hasWorkspace = false)
    {
        // Where the workspace stands as the phase is entered: its base commit, which a retry from it or a fork at it
        // goes back to (ADR 38). A pending reset is where it will stand. Kept from the first upsert of the phase run.
        var baseCommit = hasWorkspace ? "(SELECT COALESCE(w.reset_to, w.finished_commit) FROM workspaces w WHERE w.owner_id = @runId)" : "NULL";
        if (phases.Count == 0)
        {
            return null;
        }
        var parameters = new DynamicParameters(new { runId, nowMs });
        var rows = new StringBuilder();
        var takenIndex = -1;
        for (var i = 0; i < phases.Count; i++)
        {
            var p = phases[i];
            var starts = taken is not null && p.Phase == taken.Phase && p.Iteration == taken.Iteration;
            takenIndex = starts ? i : takenIndex;
            rows.Append(i == 0 ? "" : ", ")
                .Append($"(@runId, @p{i}, @it{i}, @pos{i}, @st{i}, @att{i}, @fb{i}, @err{i}, @sa{i}, @ca{i}, @gs{i}, @ga{i}, @gc{i}, @gd{i}, @gdl{i}, @vs{i}, {baseCommit})");
            parameters.Add($"p{i}", p.Phase);
            parameters.Add($"it{i}", p.Iteration);
            parameters.Add($"pos{i}", profile.IndexOf(p.Phase));
            parameters.Add($"st{i}", starts ? PhaseStatus.Running.Wire() : p.Status.Wire());
            parameters.Add($"att{i}", starts ? 1 : 0);
            parameters.Add($"fb{i}", p.Feedback);
            parameters.Add($"err{i}", p.Error);
            parameters.Add($"sa{i}", p.Started || starts ? nowMs : null);
            parameters.Add($"ca{i}", p.Finished ? nowMs : null);
            parameters.Add($"gs{i}", p.GateStatus);
            parameters.Add($"ga{i}", p.GateActor);
            parameters.Add($"gc{i}", p.GateComment);
            parameters.Add($"gd{i}", p.GateActor is null ? null : nowMs);
            parameters.Add($"gdl{i}", p.GateDeadline?.ToMs());
            parameters.Add($"vs{i}", p.ValidationSkippedBy);
        }
        var sql = $"""
            INSERT INTO phase_runs(run_id, phase, iteration, position, status, attempts, feedback, error, started_at, completed_at,
                gate_status, gate_actor, gate_comment, gate_decided_at, gate_deadline, validation_skipped_by, base_commit)
            VALUES {rows}
            ON CONFLICT(run_id, iteration, phase) DO UPDATE SET
                status = excluded.status,
                attempts = phase_runs.attempts + excluded.attempts,
                feedback = COALESCE(excluded.feedback, phase_runs.feedback),
                error = CASE WHEN excluded.attempts > 0 THEN NULL ELSE COALESCE(excluded.error, phase_runs.error) END,
                started_at = COALESCE(phase_runs.started_at, excluded.started_at),
                completed_at = COALESCE(excluded.completed_at, phase_runs.completed_at),
                gate_status = COALESCE(excluded.gate_status, phase_runs.gate_status),
                gate_actor = COALESCE(excluded.gate_actor, phase_runs.gate_actor),
                gate_comment = COALESCE(excluded.gate_comment, phase_runs.gate_comment),
                gate_decided_at = COALESCE(excluded.gate_decided_at, phase_runs.gate_decided_at),
                gate_deadline = COALESCE(excluded.gate_deadline, phase_runs.gate_deadline),
                validation_skipped_by = COALESCE(excluded.validation_skipped_by, phase_runs.validation_skipped_by),
                base_commit = COALESCE(phase_runs.base_commit, excluded.base_commit)
            """;
        if (takenIndex < 0)
        {
            await c.DeferAsync(sql, parameters, tx);
            return null;
        }
        var returned = await c.QueryAsync<(string Phase, int Iteration, string? Feedback, string? ValidationSkippedBy, int Attempts)>(
            sql + " RETURNING phase, iteration, feedback, validation_skipped_by, attempts", parameters, tx);
        var row = returned.Single(r => r.Phase == taken!.Phase && r.Iteration == taken.Iteration);
        return (row.Feedback, row.ValidationSkippedBy, row.Attempts);
    }

    /// <summary>
    /// Each phase of the run that was entered, with the iteration it was entered in last and its base commit there:
    /// where the workspace stood as it was entered, or (entered before the run had a workspace) the fork's start commit
    /// or the workspace's own base. Null for a run without a repository.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, PhaseBase>> PhaseBasesAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        (await c.QueryAsync<PhaseBase>(
            """
            SELECT p.phase, p.iteration, COALESCE(p.base_commit, r.fork_commit, w.base_commit) AS commit_sha
            FROM phase_runs p JOIN runs r ON r.id = p.run_id LEFT JOIN workspaces w ON w.owner_id = p.run_id
            WHERE p.run_id = @runId AND p.iteration = (SELECT MAX(x.iteration) FROM phase_runs x WHERE x.run_id = p.run_id AND x.phase = p.phase)
            """, new { runId }, tx)).ToDictionary(p => p.Phase, StringComparer.Ordinal);

    /// <summary>
    /// A fork's history: the parent's runs of <paramref name="phases"/> up to <paramref name="maxIteration"/>, as they
    /// were, with their base commits resolved in the parent (the fork's own fallbacks would name other commits).
    /// </summary>
    public static Task CopyPhaseRunsAsync(IDbConnection c, IDbTransaction tx, string parentId, string forkId, IReadOnlyList<string> phases, int maxIteration) =>
        c.DeferAsync(
            $"""
            INSERT INTO phase_runs(run_id, phase, iteration, position, status, attempts, feedback, error, started_at, completed_at,
                gate_status, gate_actor, gate_comment, gate_decided_at, gate_deadline, validation_skipped_by, base_commit)
            SELECT @forkId, p.phase, p.iteration, p.position, p.status, p.attempts, p.feedback, p.error, p.started_at, p.completed_at,
                p.gate_status, p.gate_actor, p.gate_comment, p.gate_decided_at, p.gate_deadline, p.validation_skipped_by,
                COALESCE(p.base_commit, r.fork_commit, w.base_commit)
            FROM phase_runs p JOIN runs r ON r.id = p.run_id LEFT JOIN workspaces w ON w.owner_id = p.run_id
            WHERE p.run_id = @parentId AND p.iteration <= @maxIteration AND {SqlDialect.Of(c).In("p.phase", "@phases")}
            """, new { parentId, forkId, maxIteration, phases = phases.ToArray() }, tx);
}

/// <summary>A phase's latest entry in a run: its iteration and its base commit (null: the run has no repository).</summary>
public sealed class PhaseBase
{
    public string Phase { get; set; } = "";
    public int Iteration { get; set; }
    public string? CommitSha { get; set; }
}

/// <summary>A phase run as the claim of its job read and locked it (<see cref="RunStore.LockedPhaseRunOf"/>), before its next attempt.</summary>
public sealed class LockedPhaseRun
{
    public int PhaseRunAttempts { get; set; }
    public string? PhaseRunFeedback { get; set; }
    public string? PhaseRunValidationSkippedBy { get; set; }
}
