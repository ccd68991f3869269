using System.Data;
using Baton.Client;
using Baton.Engine;
using Baton.Profiles;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>The outcome of a trigger: the decision and the run as it is after it.</summary>
public sealed record TransitionOutcome(RunDecision Decision, RunRow? Run)
{
    /// <summary>The run's next phase, already leased to the caller and marked running, when it asked to take it.</summary>
    public TakenPhase? Taken { get; init; }

    /// <summary>The transaction tells the other nodes of its jobs itself, at its COMMIT (<see cref="ClusterSignals.AnnounceJobsIfQuietAsync"/>).</summary>
    public bool Announced { get; init; }
}

/// <summary>A next phase taken over in its transition's transaction: its job, and its phase run as it starts.</summary>
public sealed record TakenPhase(JobRow Job, string? Feedback, string? ValidationSkippedBy, int Attempts);

/// <summary>
/// Carries out <see cref="RunDecider"/> decisions: in one transaction it reads the run, decides, updates the run
/// with a guard on its version (no silent no-op), upserts phase runs, enqueues jobs and appends events.
/// </summary>
public sealed class RunTransitions(Database db, JobQueue queue, ProfileCatalog catalog, TimeProvider time, EngineSignals signals, Ops.BatonMetrics metrics)
{
    /// <summary>The run as the API shows it, now.</summary>
    public async Task<RunDetail> DetailAsync(IDbConnection c, RunRow run)
    {
        var profile = await ProfileOfAsync(c, null, run);
        return await WithGateAsync(c, run, profile, await RunStore.DetailAsync(c, null, run, profile, time.GetUtcNow()));
    }

    /// <summary>The run's detail with the gate it waits at, if any (the API's run and the dashboard's run page alike).</summary>
    public static async Task<RunDetail> WithGateAsync(IDbConnection c, RunRow run, Profile profile, RunDetail detail) =>
        run.WaitReason == WaitReason.Gate.Wire() && run.CurrentPhase is { } phase && profile.Phase(phase) is { } definition
            ? detail with { Gate = await OpenGateAsync(c, run, definition) }
            : detail;

    /// <summary>The gate the run waits at, as `gate` in GET /api/runs/{id}: what it needs, what it has, and what it is bound to.</summary>
    private static async Task<OpenGate> OpenGateAsync(IDbConnection c, RunRow run, PhaseDefinition phase)
    {
        var policy = phase.Gate ?? new GateDefinition(GateDefinition.DefaultTimeout, GateTimeoutAction.Expire, [phase.Name]);
        var state = await GateStore.ReadAsync(c, null, run.Id, phase.Name, run.Iteration);
        var deadline = Times.FromMs(await GateStore.DeadlineAsync(c, null, run.Id, phase.Name, run.Iteration));
        GateVoteInfo Info(GateVote v) => new(v.Actor, v.At, v.Comment,
            v.InputsJson is null ? null : System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement>>(v.InputsJson),
            v.Groups);
        var approvals = state.Votes.Where(v => v.Decision == GateVote.Approved).ToList();
        return new OpenGate(
            phase.Name,
            run.Iteration,
            // The gate opened its timeout before its deadline: the profile version of a run never changes.
            deadline is { } d ? d - policy.Timeout : Times.FromMs(run.UpdatedAt),
            deadline,
            policy.Approvals,
            approvals.Select(Info).ToList(),
            state.Votes.Where(v => v.Decision == GateVote.Rejected).Select(Info).ToList(),
            state.Digest,
            state.Commit,
            GateForms.Describe(policy.Inputs),
            policy.Approvers,
            policy.SelfApproval ? "allow" : "deny",
            policy.RequiredGroups,
            GateQuorum.MissingGroups(policy.RequiredGroups, approvals.Select(v => v.Groups).ToList()));
    }

    /// <summary>Decides and applies a trigger in one transaction. An expectedVersion (from If-Match) other than the run's is a 409.</summary>
    public async Task<TransitionOutcome> ApplyAsync(string runId, RunTrigger trigger, long? expectedVersion = null, CancellationToken ct = default)
    {
        // A person's decision: somebody waits for what it starts.
        var outcome = await db.WriteAsync((c, tx) => ApplyInTransactionAsync(c, tx, runId, trigger, expectedVersion, announceJobs: true), ct);
        AfterCommit(outcome.Decision, announced: outcome.Announced);
        return outcome;
    }

    /// <param name="decision">What was committed.</param>
    /// <param name="jobsTaken">The committing worker already took the new jobs: no other worker needs waking.</param>
    /// <param name="announced">The transaction told the other nodes of its jobs itself (<see cref="TransitionOutcome.Announced"/>).</param>
    public void AfterCommit(RunDecision decision, bool jobsTaken = false, bool announced = false)
    {
        metrics.Committed(decision);
        if (decision is Transition t)
        {
            // A worker woken for a job not yet due claims nothing: every gate that opens queues its deadline.
            var due = t.JobsDue;
            if (due > 0 && !jobsTaken)
            {
                if (announced)
                {
                    signals.Jobs.WakeHere(due);
                }
                else
                {
                    signals.Jobs.Wake(due);
                }
            }
            if (t.Jobs.Count > due)
            {
                signals.Jobs.Scheduled();
            }
            signals.EventsCommitted();
        }
    }

    public async Task<Profile> ProfileOfAsync(IDbConnection c, IDbTransaction? tx, RunRow run)
    {
        if (catalog.TryGetByHash(run.ProfileHash, out var cached))
        {
            return cached;
        }
        var source = await RunStore.ProfileSourceAsync(c, tx, run.ProfileHash);
        return catalog.ByHash(run.ProfileHash, () => source);
    }

    /// <summary>
    /// Decides and applies a trigger inside the caller's transaction. The events go to <paramref name="events"/> when
    /// the caller writes a batch of its own, else they are written here. With <paramref name="takeNextPhase"/> the
    /// caller goes straight on with the run's next phase: its job is inserted leased to the caller (when its worker has
    /// room) and its phase run marked running, in the statements that would have queued it. <paramref name="jobsLocked"/>
    /// says the caller locked the run's jobs already (<see cref="JobQueue.LockOfRunAsync"/>), first thing. With
    /// <paramref name="announceJobs"/> (a create, a person's decision) the transaction may tell the other nodes of the
    /// jobs it queues itself (<see cref="TransitionOutcome.Announced"/>).
    /// </summary>
    public async Task<TransitionOutcome> ApplyInTransactionAsync(
        IDbConnection c, IDbTransaction tx, string runId, RunTrigger trigger, long? expectedVersion = null, EventBatch? events = null,
        bool takeNextPhase = false, bool jobsLocked = false, bool announceJobs = false)
    {
        if (!jobsLocked)
        {
            await JobQueue.LockOfRunAsync(c, tx, runId);
        }
        var run = await RunStore.LoadAsync(c, tx, runId);
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
        var state = run.ToState(succeeded);
        if (trigger is ApproveRun or RejectRun or NextPhase or GateReminderDue or GateTimedOut && run.CurrentPhase is { } waiting
            && (run.WaitReason == WaitReason.Gate.Wire() || run.RunStatus == RunStatus.Paused))
        {
            // What the decision is bound to, read under the run's lock: a racing approval on another node waits for it.
            state = state with { Gate = await GateStore.ReadAsync(c, tx, run.Id, waiting, run.Iteration) };
        }
        if (trigger is RetryRun { FromPhase: not null })
        {
            // The base commits a retry from an earlier phase goes back to (ADR 38), read under the run's lock.
            state = state with { PhaseBases = await RunStore.PhaseBasesAsync(c, tx, run.Id) };
        }
        var decision = RunDecider.Decide(state, profile, trigger, now);
        if (decision is not Transition t)
        {
            return new TransitionOutcome(decision, run);
        }
        var batch = events ?? new EventBatch();
        var taken = await ApplyAsync(c, tx, run, profile, t, now, batch, takeNextPhase);
        metrics.Decided(t, run, now);
        if (events is null)
        {
            await batch.WriteAsync(c, tx);
        }
        var due = t.JobsDue;
        var announced = announceJobs && taken is null && due > 0 && await ClusterSignals.AnnounceJobsIfQuietAsync(c, tx, signals.Jobs, due);
        return new TransitionOutcome(decision, run.After(t, now.ToMs())) { Taken = taken, Announced = announced };
    }

    private async Task<TakenPhase?> ApplyAsync(IDbConnection c, IDbTransaction tx, RunRow run, Profile profile, Transition t, DateTimeOffset now, EventBatch events, bool takeNextPhase)
    {
        var nowMs = now.ToMs();
        await RunStore.ApplyTransitionAsync(c, tx, run, t, nowMs);

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
        if (t.ResetWorkspaceTo is { } resetTo)
        {
            // Before the phase runs below: they record the commit the workspace will stand at as their base.
            await Workspaces.WorkspaceStore.ResetToAsync(c, tx, run.Id, resetTo);
        }
        var started = await RunStore.UpsertPhaseRunsAsync(c, tx, run.Id, profile, t.Phases, takenJob, nowMs, hasWorkspace: run.RepositoryId is not null);
        if (t.Vote is { } vote)
        {
            await GateStore.InsertAsync(c, tx, run.Id, run.CurrentPhase!, run.Iteration, vote);
        }

        if (t.CancelOpenPhases)
        {
            await RunStore.CancelOpenPhaseRunsAsync(c, tx, run.Id, nowMs);
            await ExecutionStore.CancelOpenOfRunAsync(c, tx, run.Id, nowMs);
        }
        foreach (var e in t.Events)
        {
            events.Add(run.Id, e, now);
        }
        return takenJob is null || started is null ? null : new TakenPhase(takenJob, started.Value.Feedback, started.Value.ValidationSkippedBy, started.Value.Attempts);
    }
}

public sealed class ConcurrencyConflictException(string runId) : Exception($"run {runId} was changed by someone else; try again")
{
    public string RunId { get; } = runId;
}
