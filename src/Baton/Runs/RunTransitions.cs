using System.Data;
using System.Text;
using Baton.Engine;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>The outcome of a trigger: the decision and the run as it is after it.</summary>
public sealed record TransitionOutcome(RunDecision Decision, RunRow? Run)
{
    /// <summary>The run's next phase, already leased to the caller and marked running, when it asked to take it.</summary>
    public TakenPhase? Taken { get; init; }
}

/// <summary>A next phase taken over in its transition's transaction: its job, and its phase run as it starts.</summary>
public sealed record TakenPhase(JobRow Job, string? Feedback, string? ValidationSkippedBy, int Attempts);

/// <summary>
/// Carries out <see cref="RunDecider"/> decisions: in one transaction it reads the run, decides, updates the run
/// with a guard on its version (no silent no-op), upserts phase runs, enqueues jobs and appends events.
/// </summary>
public sealed class RunTransitions(Database db, JobQueue queue, ProfileCatalog catalog, TimeProvider time, EngineSignals signals)
{
    /// <summary>Decides and applies a trigger in one transaction. An expectedVersion (from If-Match) other than the run's is a 409.</summary>
    public async Task<TransitionOutcome> ApplyAsync(string runId, RunTrigger trigger, long? expectedVersion = null, CancellationToken ct = default)
    {
        var outcome = await db.WriteAsync((c, tx) => ApplyInTransactionAsync(c, tx, runId, trigger, expectedVersion), ct);
        AfterCommit(outcome.Decision);
        return outcome;
    }

    /// <param name="decision">What was committed.</param>
    /// <param name="jobsTaken">The committing worker already took the new jobs: no other worker needs waking.</param>
    public void AfterCommit(RunDecision decision, bool jobsTaken = false)
    {
        if (decision is Transition t)
        {
            if (t.Jobs.Count > 0 && !jobsTaken)
            {
                signals.Jobs.Wake(t.Jobs.Count);
            }
            signals.Events.Fire();
        }
    }

    /// <summary>The run's row without its intake: every transition loads it, some twice.</summary>
    public static Task<RunRow?> LoadRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.QuerySingleOrDefaultAsync<RunRow>($"SELECT {RunRow.Columns} FROM runs WHERE id = @runId", new { runId }, tx);

    public async Task<Profile> ProfileOfAsync(IDbConnection c, IDbTransaction? tx, RunRow run)
    {
        if (catalog.TryGetByHash(run.ProfileHash, out var cached))
        {
            return cached;
        }
        var source = await c.QuerySingleAsync<string>("SELECT source FROM profile_versions WHERE hash = @ProfileHash", run, tx);
        return catalog.ByHash(run.ProfileHash, () => source);
    }

    /// <summary>
    /// Decides and applies a trigger inside the caller's transaction. The events go to <paramref name="events"/> when
    /// the caller writes a batch of its own, else they are written here. With <paramref name="takeNextPhase"/> the
    /// caller goes straight on with the run's next phase: its job is inserted leased to the caller (when its worker has
    /// room) and its phase run marked running, in the statements that would have queued it.
    /// </summary>
    public async Task<TransitionOutcome> ApplyInTransactionAsync(
        IDbConnection c, IDbTransaction tx, string runId, RunTrigger trigger, long? expectedVersion = null, EventBatch? events = null, bool takeNextPhase = false)
    {
        var run = await LoadRunAsync(c, tx, runId);
        if (run is null)
        {
            return new TransitionOutcome(new Ignored("no such run"), null);
        }
        if (expectedVersion is { } expected && expected != run.Version)
        {
            return new TransitionOutcome(new Refused($"run changed since version {expected}: it is now {run.Status} (version {run.Version})"), run);
        }
        var profile = await ProfileOfAsync(c, tx, run);
        var succeeded = run.BudgetUsd is null ? 0 : await ExecutionStore.CountSucceededAsync(c, tx, run.Id);
        var now = time.GetUtcNow();
        var decision = RunDecider.Decide(run.ToState(succeeded), profile, trigger, now);
        if (decision is not Transition t)
        {
            return new TransitionOutcome(decision, run);
        }
        var batch = events ?? new EventBatch();
        var taken = await ApplyAsync(c, tx, run, profile, t, now, batch, takeNextPhase);
        if (events is null)
        {
            await batch.WriteAsync(c, tx);
        }
        return new TransitionOutcome(decision, run.After(t, now.ToMs())) { Taken = taken };
    }

    private async Task<TakenPhase?> ApplyAsync(IDbConnection c, IDbTransaction tx, RunRow run, Profile profile, Transition t, DateTimeOffset now, EventBatch events, bool takeNextPhase)
    {
        var nowMs = now.ToMs();
        var updated = await c.ExecuteAsync(
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
            tx);
        if (updated != 1)
        {
            // Cannot happen under SQLite's single writer; on a multi-writer database it is the guard that turns
            // a lost race into a 409 instead of a silent overwrite.
            throw new ConcurrencyConflictException(run.Id);
        }

        if (t.ClearJobs)
        {
            await JobQueue.DeleteOfRunAsync(c, tx, run.Id);
        }
        JobRow? takenJob = null;
        foreach (var job in t.Jobs)
        {
            if (takeNextPhase && takenJob is null && job.Kind == JobRequest.ExecutePhase && job.RunAt <= now)
            {
                takenJob = await queue.EnqueueLeasedAsync(c, tx, run.Id, job, nowMs);
                if (takenJob is not null)
                {
                    continue;
                }
            }
            await JobQueue.EnqueueAsync(c, tx, run.Id, job, nowMs);
        }
        var started = await UpsertPhaseRunsAsync(c, tx, run.Id, profile, t.Phases, takenJob, nowMs);

        if (t.CancelOpenPhases)
        {
            await c.ExecuteAsync(
                "UPDATE phase_runs SET status = 'cancelled', completed_at = @nowMs WHERE run_id = @id AND status IN ('pending', 'running', 'awaiting_approval')",
                new { id = run.Id, nowMs }, tx);
            await ExecutionStore.CancelOpenOfRunAsync(c, tx, run.Id, nowMs);
        }
        foreach (var e in t.Events)
        {
            events.Add(run.Id, e, now);
        }
        return takenJob is null || started is null ? null : new TakenPhase(takenJob, started.Value.Feedback, started.Value.ValidationSkippedBy, started.Value.Attempts);
    }

    /// <summary>
    /// The transition's phase runs in one statement. The phase of <paramref name="taken"/> starts running (one more
    /// attempt, its last error cleared), and its row comes back; null fields of a change keep what is stored.
    /// </summary>
    private static async Task<(string? Feedback, string? ValidationSkippedBy, int Attempts)?> UpsertPhaseRunsAsync(
        IDbConnection c, IDbTransaction tx, string runId, Profile profile, IReadOnlyList<PhaseChange> phases, JobRow? taken, long nowMs)
    {
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
                .Append($"(@runId, @p{i}, @it{i}, @pos{i}, @st{i}, @att{i}, @fb{i}, @err{i}, @sa{i}, @ca{i}, @gs{i}, @ga{i}, @gc{i}, @gd{i}, @gdl{i}, @vs{i})");
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
                gate_status, gate_actor, gate_comment, gate_decided_at, gate_deadline, validation_skipped_by)
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
                validation_skipped_by = COALESCE(excluded.validation_skipped_by, phase_runs.validation_skipped_by)
            """;
        if (takenIndex < 0)
        {
            await c.ExecuteAsync(sql, parameters, tx);
            return null;
        }
        var returned = await c.QueryAsync<(string Phase, int Iteration, string? Feedback, string? ValidationSkippedBy, int Attempts)>(
            sql + " RETURNING phase, iteration, feedback, validation_skipped_by, attempts", parameters, tx);
        var row = returned.Single(r => r.Phase == taken!.Phase && r.Iteration == taken.Iteration);
        return (row.Feedback, row.ValidationSkippedBy, row.Attempts);
    }
}

public sealed class ConcurrencyConflictException(string runId) : Exception($"run {runId} was changed by someone else; try again")
{
    public string RunId { get; } = runId;
}
