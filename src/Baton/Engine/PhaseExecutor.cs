using System.Data;
using Baton.Agents;
using Baton.Artifacts;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;

namespace Baton.Engine;

/// <summary>
/// Runs one `execute_phase` job: its start in the claim's transaction (execution row, phase running, a lost execution
/// recorded; its orphaned agent stopped once that has committed), the agent in the run's workspace outside any
/// transaction, a commit of what it changed and the phase's check, and a finish transaction whose first write is the
/// lease fence, which stores artifacts, usage and test results, hands the outcome to <see cref="RunDecider"/> and
/// starts the run's next phase on this worker.
/// </summary>
public sealed class PhaseExecutor(
    Database db,
    ExecutionLifecycle lifecycle,
    RunTransitions transitions,
    RunningExecutions running,
    AgentWork work,
    GitWorkspaces workspaces,
    EngineSignals signals,
    Ops.BatonMetrics metrics,
    NodeIdentity node,
    ToolApprovals.AgentCallbacks callbacks,
    TimeProvider time,
    ILogger<PhaseExecutor> logger)
{
    /// <summary>A started phase execution.</summary>
    internal sealed record Started(RunRow Run, PhaseDefinition Phase, int Iteration, string? Feedback, bool SkipChecks,
        string ExecutionId, int Attempt, WorkerDefinition? Worker, string? WorkerProblem);

    private static readonly IReadOnlyDictionary<string, string> NoArtifacts = new Dictionary<string, string>();

    public sealed class PhaseStart : ExecutionStart
    {
        internal PhaseStart(JobRow job, Started started, RunningExecutions.Handle handle, IReadOnlyList<int> orphans)
            : base(job, job.RunId, handle, orphans) => Started = started;

        internal Started Started { get; }
    }

    /// <summary>
    /// Starts a claimed phase job inside the claim's transaction; null when the run has moved on (the job is deleted).
    /// <paramref name="run"/> and <paramref name="phaseRun"/> are the run's row and the phase run's when the claim read
    /// and locked them already.
    /// </summary>
    public async Task<PhaseStart?> StartAsync(IDbConnection c, IDbTransaction tx, JobRow job, RunRow? run = null, LockedPhaseRun? phaseRun = null)
    {
        var handle = running.Track(job.RunId);
        try
        {
            var orphans = new List<int>();
            var events = new EventBatch();
            var started = await StartInTransactionAsync(c, tx, events, job, run, phaseRun, taken: null, orphans);
            await events.WriteAsync(c, tx);
            if (started is not null)
            {
                return new PhaseStart(job, started, handle, orphans);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        handle.Dispose();
        return null;
    }

    /// <param name="start">What <see cref="StartAsync"/> committed.</param>
    /// <param name="handedOver">Told of each next phase's job taken over in a finish transaction: from then on, that is the job running.</param>
    /// <param name="stopping">The node stopping.</param>
    public async Task ExecuteAsync(PhaseStart start, Action<JobRow> handedOver, CancellationToken stopping)
    {
        using var started = start;
        var (job, phase, handle) = (start.Job, (Started?)start.Started, start.Handle);
        while (phase is not null && !handle.Cancel.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            var (next, nextStarted) = await RunPhaseAsync(job, phase, handle, stopping);
            if (nextStarted is not null)
            {
                handedOver(next);
            }
            (job, phase) = (next, nextStarted);
        }
    }

    /// <summary>One phase execution; returns the run's next phase when the finish transaction took it over.</summary>
    private async Task<(JobRow Job, Started? Next)> RunPhaseAsync(JobRow job, Started started, RunningExecutions.Handle handle, CancellationToken stopping)
    {
        var timeout = started.Worker?.Config.Timeout is { } t && t < started.Phase.Timeout ? t : started.Phase.Timeout;
        using var logScope = logger.BeginScope(new Ops.ExecutionLogScope(job.RunId, started.ExecutionId, started.Phase.Name));
        using var phaseSpan = Ops.BatonTracing.StartPhase(job.RunId, started.Run.TraceParent, started.Phase.Name, started.Iteration, started.Attempt, started.Phase.Worker);
        await using var log = work.Log(job.RunId, started.Phase.Name, started.Iteration, job);
        var earlier = NoArtifacts;
        var attempt = await lifecycle.RunAsync(job, handle, timeout, async ct =>
        {
            using var executionSpan = Ops.BatonTracing.StartExecution(job.RunId, started.Phase.Name, started.ExecutionId, started.Phase.Worker);
            (var result, earlier) = await RunAsync(started, log, ct);
            return result;
        }, stopping);
        if (attempt is null)
        {
            return (job, null);
        }
        var result = attempt.Result;
        if (result.Error is { } error)
        {
            await log.WriteAsync("error", $"attempt {started.Attempt} failed: {error}");
            phaseSpan?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error);
            Ops.Logs.ExecutionFailed(logger, started.ExecutionId, started.Phase.Name, started.Phase.Worker, error);
        }
        metrics.ExecutionFinished(started.Phase.Worker, started.Worker?.Config.Model, result.Error is null, TimeSpan.FromMilliseconds(attempt.DurationMs), result.Usage);
        Ops.Logs.ExecutionEnded(logger, started.ExecutionId, started.Phase.Name, started.Phase.Worker, result.Error is null ? "success" : "error", attempt.DurationMs);

        var retryAt = Retries(started, result) ? time.GetUtcNow() + Backoff(started.Attempt) : (DateTimeOffset?)null;
        var (_, finished) = await lifecycle.FinishAsync(job, started.ExecutionId, log, attempt, retryAt, async (c, tx, events) =>
        {
            // The run's next phase starts in this same transaction, on this worker, unless the node is stopping.
            var outcome = await FinishAsync(c, tx, events, job, started, result, earlier, retryAt, takeNextPhase: !stopping.IsCancellationRequested);
            if (outcome?.Taken is not { } taken)
            {
                return (outcome?.Decision, ((JobRow, Started)?)null);
            }
            var nextStarted = await StartInTransactionAsync(c, tx, events, taken.Job, outcome.Run, lockedPhaseRun: null, taken, orphans: null);
            return (outcome.Decision, nextStarted is null ? null : (taken.Job, nextStarted));
        });
        var (decision, next) = finished;
        if (decision is not null)
        {
            transitions.AfterCommit(decision, jobsTaken: next is not null);
        }
        signals.EventsCommitted();
        if (next is null)
        {
            // This worker's slot is free: a job held back by its concurrency limit may go now, on any node. A worker
            // without a limit holds nothing back, and the wake would send a claim on every node for nothing. A retry's
            // job comes due later: every node's pacemaker must look again to sleep only until then.
            if (JobQueue.MayHaveLimit(started.Phase.Worker))
            {
                signals.Jobs.Wake();
            }
            else if (retryAt is not null)
            {
                signals.Jobs.Scheduled();
            }
            return (job, null);
        }
        return next.Value;
    }

    /// <returns>The attempt, and the earlier artifacts it read (its checks may compare with them).</returns>
    private async Task<(AttemptResult Result, IReadOnlyDictionary<string, string> Earlier)> RunAsync(Started s, LogSink log, CancellationToken ct)
    {
        if (s.WorkerProblem is { } problem)
        {
            return (AttemptResult.Failed(problem, permanent: true), NoArtifacts);
        }
        // A folder only where something works in one: a repository's workspace, a program, or a check command.
        var needsFolder = s.Run.RepositoryId is not null || s.Worker is not null || s.Phase.Check is { Count: > 0 };
        var place = needsFolder ? await work.PrepareAsync(s.Run.Id, s.Run.RepositoryId, ct, ForkStart.Of(s.Run)) : new Workplace(null, "", null);
        var workspace = place.Workspace;
        // Only the intake and earlier artifacts that the phase's templates, prompt or checks name.
        var inputs = await PhaseInputs.ReadAsync(db, s.Run.Id, PhaseInputs.NeedsOf(s.Phase, s.Worker is null ? null : s.Phase.Prompt ?? DefaultPrompt), ct);
        var earlier = inputs.Earlier.Contents;
        var input = new AgentInput(s.Run.Id, s.Run.ProjectName, inputs.Intake, s.Phase, s.Iteration, s.Feedback, inputs.Earlier) { Gates = inputs.Gates };

        AgentOutcome outcome;
        if (s.Worker is null)
        {
            var rendered = await TemplateAgent.RunAsync(input, time, ct);
            foreach (var line in rendered.Log)
            {
                await log.WriteAsync("info", line);
            }
            outcome = new AgentOutcome(rendered.Artifacts, null, AgentUsage.None);
        }
        else
        {
            var request = new AgentRequest(s.Run.Id, s.Phase.Name, s.Iteration, TemplateAgent.Render(s.Phase.Prompt ?? DefaultPrompt, input),
                place.Directory, work.ArtifactsDirectory(s.ExecutionId), s.Phase.Produces, log.WriteAsync)
            {
                OnProcessStarted = pid => work.RecordPidAsync(s.ExecutionId, pid),
                Git = place.Git,
                Approvals = callbacks.For(s.ExecutionId, s.Phase.ToolApprovals),
            };
            using var agentSpan = Ops.BatonTracing.StartAgent(s.Run.Id, s.Phase.Name, s.Worker);
            outcome = await work.AgentFor(s.Worker).RunAsync(request, ct);
            Ops.BatonTracing.AgentFinished(agentSpan, outcome.Usage, null);
        }

        AgentWork.RestoreGitLink(place);
        var commit = workspace is null ? null : await workspaces.CommitAsync(workspace, $"baton: {s.Phase.Name} (run {s.Run.Id}, iteration {s.Iteration})", ct);
        if (commit is not null)
        {
            await log.WriteAsync("info", $"committed {commit.Commit[..12]}: {commit.FilesChanged} file(s) changed");
        }
        var check = s.Phase.Check is { Count: > 0 } argv && !s.SkipChecks ? await work.RunCheckAsync(argv, place, s.Run.Id, s.ExecutionId, s.Worker?.Config.Network ?? true, log, ct) : null;
        return (new AttemptResult(outcome, null, false, outcome.Usage, commit, check), earlier);
    }

    /// <summary>The prompt of a phase that gives none: the intake, and the feedback that started this iteration.</summary>
    private const string DefaultPrompt = "{{intake}}\n\nReviewer feedback to address: {{feedback}}\n";

    /// <summary>
    /// Starts <paramref name="job"/>, claimed in this same transaction (so its lease needs no check): the execution row,
    /// the phase running, and a lost execution of an earlier claim recorded. After a transition in this transaction
    /// took the job (<paramref name="taken"/>), <paramref name="run"/> is the run as it left it, and the phase run is
    /// running already; otherwise the phase run is started here, and the run is read unless the claim read and locked
    /// it (<paramref name="run"/> given). The agents of lost executions still running go to
    /// <paramref name="orphans"/>, to stop once this has committed.
    /// </summary>
    private async Task<Started?> StartInTransactionAsync(IDbConnection c, IDbTransaction tx, EventBatch events, JobRow job, RunRow? run, LockedPhaseRun? lockedPhaseRun, TakenPhase? taken, List<int>? orphans)
    {
        run ??= await RunStore.LoadAsync(c, tx, job.RunId);
        if (run is null || run.RunStatus != RunStatus.Running || run.CurrentPhase != job.Phase || run.Iteration != job.Iteration || run.WaitReason is not null)
        {
            await JobQueue.DeleteAsync(c, tx, job);
            return null;
        }
        var profile = await transitions.ProfileOfAsync(c, tx, run);
        var phase = profile.Phase(job.Phase!)!;
        var iteration = job.Iteration!.Value;
        var now = time.GetUtcNow();
        var key = new { runId = run.Id, phase = phase.Name, iteration, now = now.ToMs() };

        // An execution of this phase can be left running only by an earlier claim of this job (a crash, a lost lease,
        // an engine error): each of those ends its job or keeps it, and the first claim has nothing to look for.
        var lost = job.Attempts == 1 ? [] : await ExecutionStore.EndRunningOfPhaseAsync(c, tx, run.Id, phase.Name, iteration, "worker lost", key.now);
        foreach (var (id, pid, ranOn) in lost)
        {
            // The agent of a crashed server may still be running in the workspace: it is stopped before the phase
            // runs again, once this transaction has committed. Only by the node that ran it: elsewhere its pid
            // names nothing (that node stops it when it starts again).
            var stopped = pid is { } p && node.Ran(ranOn) && ProcessRunner.IsOrphanOf(p, run.Id);
            if (stopped)
            {
                orphans?.Add(pid!.Value);
            }
            events.Add(run.Id, new RunEvent("execution.lost", phase.Name, iteration, null,
                new Dictionary<string, object?> { ["execution_id"] = id, ["orphan_stopped"] = stopped }), now);
            events.AddLog(run.Id, phase.Name, iteration, "warn",
                $"execution {id} was interrupted (worker lost){(stopped ? "; its agent process was stopped" : "")}; running the phase again", now);
        }

        WorkerDefinition? worker = null;
        string? problem = null;
        if (phase.Worker != PhaseDefinition.TemplateWorker)
        {
            worker = (await WorkerStore.FindAsync(c, tx, phase.Worker))?.ToDefinition();
            problem = worker is null ? $"no worker named '{phase.Worker}' (create it with POST /api/workers)" : null;
        }

        var phaseRun = taken is not null ? (taken.Feedback, taken.ValidationSkippedBy, taken.Attempts)
            : await RunStore.StartPhaseRunAsync(c, tx, run.Id, phase.Name, iteration, key.now, lockedPhaseRun);
        var executionId = Ids.New("exe", time);
        await ExecutionStore.StartPhaseAsync(c, tx, executionId, run.Id, phase.Name, iteration, phase.Worker, worker?.Kind ?? WorkerKinds.Template, node.Id, key.now);
        events.Add(run.Id, new RunEvent("phase.started", phase.Name, iteration, null,
            new Dictionary<string, object?> { ["attempt"] = phaseRun.Attempts, ["execution_id"] = executionId, ["worker"] = phase.Worker }), now);
        if (taken is null)
        {
            // After a hand-off the transition in this transaction has just set it.
            await RunStore.TouchAsync(c, tx, run.Id, key.now);
        }
        return new Started(run, phase, iteration, phaseRun.Feedback, phaseRun.ValidationSkippedBy is not null, executionId, phaseRun.Attempts, worker, problem);
    }

    /// <summary>Whether a failed attempt runs again: an error that trying again could help, with attempts left.</summary>
    private static bool Retries(Started s, AttemptResult r) => r.Outcome is null && !r.Permanent && s.Attempt < s.Phase.MaxAttempts;

    /// <summary>
    /// In the finish transaction, after the execution's record: the run's usage, the artifacts, and the outcome handed
    /// to the decider; null when the phase is retried.
    /// </summary>
    private async Task<TransitionOutcome?> FinishAsync(IDbConnection c, IDbTransaction tx, EventBatch events, JobRow job, Started s, AttemptResult r,
        IReadOnlyDictionary<string, string> earlier, DateTimeOffset? retryAt, bool takeNextPhase)
    {
        var now = time.GetUtcNow();
        var phase = s.Phase.Name;
        if (r.Usage.CostUsd != 0 || r.Usage.TokensIn + r.Usage.TokensOut != 0)
        {
            await RunStore.AddUsageAsync(c, tx, job.RunId, r.Usage.CostUsd, r.Usage.TokensIn + r.Usage.TokensOut, r.Usage.CostUnknown);
        }

        if (r.Outcome is { } outcome)
        {
            var artifacts = outcome.Artifacts.ToList();
            if (r.Commit is { } commit)
            {
                await WorkspaceStore.RecordFinishedAsync(c, tx, job.RunId, commit.Commit);
                if (commit.Diff.Length > 0)
                {
                    artifacts.Add(new ProducedArtifact($"{phase}.diff.patch", commit.Diff));
                }
            }
            foreach (var artifact in artifacts)
            {
                await ArtifactStore.SaveAsync(c, tx, job.RunId, phase, s.Iteration, artifact.Name, artifact.Content, now);
                events.Add(job.RunId, new RunEvent("artifact.created", phase, s.Iteration, null,
                    new Dictionary<string, object?> { ["name"] = artifact.Name }), now);
            }
            var failures = s.SkipChecks ? [] : Checks.Evaluate(s.Phase, outcome.Artifacts.ToDictionary(a => a.Name, a => a.Content), earlier).ToList();
            if (r.Check is { ExitCode: not 0 } check)
            {
                failures.Add($"`{check.Command}` exited with code {check.ExitCode}" + (check.TestsRun is { } run ? $" ({check.TestsPassed}/{run} tests passed)" : ""));
            }
            return await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseSucceeded(phase, s.Iteration, failures), events: events, takeNextPhase: takeNextPhase, jobsLocked: true);
        }

        if (retryAt is { } at)
        {
            await RunStore.RetryPhaseRunAsync(c, tx, job.RunId, phase, s.Iteration, r.Error);
            events.Add(job.RunId, new RunEvent("phase.retry_scheduled", phase, s.Iteration, null,
                new Dictionary<string, object?> { ["attempt"] = s.Attempt, ["error"] = r.Error, ["retry_at"] = at }), now);
            return null;
        }
        return await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseFailed(phase, s.Iteration, r.Error ?? "failed"), events: events, takeNextPhase: takeNextPhase, jobsLocked: true);
    }

    public static TimeSpan Backoff(int attempt) => TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, attempt)));
}
