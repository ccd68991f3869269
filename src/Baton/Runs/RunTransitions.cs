using System.Data;
using Baton.Engine;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>The outcome of a trigger: the decision and the run as it is after it.</summary>
public sealed record TransitionOutcome(RunDecision Decision, RunRow? Run);

/// <summary>
/// Carries out <see cref="RunDecider"/> decisions: in one transaction it reads the run, decides, updates the run
/// with a guard on its version (no silent no-op), upserts phase runs, enqueues jobs and appends events.
/// </summary>
public sealed class RunTransitions(Database db, ProfileCatalog catalog, TimeProvider time, EngineSignals signals)
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

    public async Task<TransitionOutcome> ApplyInTransactionAsync(IDbConnection c, IDbTransaction tx, string runId, RunTrigger trigger, long? expectedVersion = null)
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
        await ApplyAsync(c, tx, run, profile, t, now);
        return new TransitionOutcome(decision, run.After(t, now.ToMs()));
    }

    private static async Task ApplyAsync(IDbConnection c, IDbTransaction tx, RunRow run, Profile profile, Transition t, DateTimeOffset now)
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

        foreach (var p in t.Phases)
        {
            await c.ExecuteAsync(
                """
                INSERT INTO phase_runs(run_id, phase, iteration, position, status, feedback, error, started_at, completed_at,
                    gate_status, gate_actor, gate_comment, gate_decided_at, gate_deadline, validation_skipped_by)
                VALUES (@runId, @phase, @iteration, @position, @status, @feedback, @error, @startedAt, @completedAt,
                    @gateStatus, @gateActor, @gateComment, @gateDecidedAt, @gateDeadline, @validationSkippedBy)
                ON CONFLICT(run_id, iteration, phase) DO UPDATE SET
                    status = excluded.status,
                    feedback = COALESCE(excluded.feedback, feedback),
                    error = COALESCE(excluded.error, error),
                    started_at = COALESCE(started_at, excluded.started_at),
                    completed_at = COALESCE(excluded.completed_at, completed_at),
                    gate_status = COALESCE(excluded.gate_status, gate_status),
                    gate_actor = COALESCE(excluded.gate_actor, gate_actor),
                    gate_comment = COALESCE(excluded.gate_comment, gate_comment),
                    gate_decided_at = COALESCE(excluded.gate_decided_at, gate_decided_at),
                    gate_deadline = COALESCE(excluded.gate_deadline, gate_deadline),
                    validation_skipped_by = COALESCE(excluded.validation_skipped_by, validation_skipped_by)
                """,
                new
                {
                    runId = run.Id,
                    phase = p.Phase,
                    iteration = p.Iteration,
                    position = profile.IndexOf(p.Phase),
                    status = p.Status.Wire(),
                    feedback = p.Feedback,
                    error = p.Error,
                    startedAt = p.Started ? nowMs : (long?)null,
                    completedAt = p.Finished ? nowMs : (long?)null,
                    gateStatus = p.GateStatus,
                    gateActor = p.GateActor,
                    gateComment = p.GateComment,
                    gateDecidedAt = p.GateActor is null ? (long?)null : nowMs,
                    gateDeadline = p.GateDeadline?.ToMs(),
                    validationSkippedBy = p.ValidationSkippedBy,
                },
                tx);
        }

        if (t.CancelOpenPhases)
        {
            await c.ExecuteAsync(
                "UPDATE phase_runs SET status = 'cancelled', completed_at = @nowMs WHERE run_id = @id AND status IN ('pending', 'running', 'awaiting_approval')",
                new { id = run.Id, nowMs }, tx);
            await ExecutionStore.CancelOpenOfRunAsync(c, tx, run.Id, nowMs);
        }
        if (t.ClearJobs)
        {
            await JobQueue.DeleteOfRunAsync(c, tx, run.Id);
        }
        foreach (var job in t.Jobs)
        {
            await JobQueue.EnqueueAsync(c, tx, run.Id, job, nowMs);
        }
        foreach (var e in t.Events)
        {
            await EventLog.AppendAsync(c, tx, run.Id, e, now);
        }
    }
}

public sealed class ConcurrencyConflictException(string runId) : Exception($"run {runId} was changed by someone else; try again")
{
    public string RunId { get; } = runId;
}
