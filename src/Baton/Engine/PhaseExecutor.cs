using System.Data;
using Baton.Agents;
using Baton.Artifacts;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;
using Dapper;

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
    JobQueue queue,
    RunTransitions transitions,
    RunningExecutions running,
    AgentWork work,
    GitWorkspaces workspaces,
    EngineSignals signals,
    Ops.NodeMetrics metrics,
    TimeProvider time,
    ILogger<PhaseExecutor> logger)
{
    /// <summary>A started execution; its Orphans are agents of lost executions still running, to stop once the start has committed.</summary>
    internal sealed record Started(RunRow Run, PhaseDefinition Phase, int Iteration, string? Feedback, bool SkipChecks,
        string ExecutionId, int Attempt, WorkerDefinition? Worker, string? WorkerProblem, IReadOnlyList<int> Orphans);

    /// <summary>What an execution came to: output, or an error (and whether trying again could help).</summary>
    private sealed record Result(
        AgentOutcome? Outcome, string? Error, bool Permanent, AgentUsage Usage, PhaseCommit? Commit, CheckResult? Check,
        IReadOnlyDictionary<string, string> Earlier);

    /// <summary>A phase started in its claim's transaction, tracked on this node from before that commits.</summary>
    public sealed class PhaseStart : IDisposable
    {
        internal PhaseStart(JobRow job, Started started, RunningExecutions.Handle handle) => (Job, Started, Handle) = (job, started, handle);

        internal JobRow Job { get; }

        internal Started Started { get; }

        internal RunningExecutions.Handle Handle { get; }

        public void Dispose() => Handle.Dispose();
    }

    /// <summary>
    /// Starts a claimed phase job inside the claim's transaction; null when the run has moved on (the job is deleted).
    /// The caller disposes what it gets if that transaction does not commit.
    /// </summary>
    public async Task<PhaseStart?> StartAsync(IDbConnection c, IDbTransaction tx, JobRow job)
    {
        // Tracked before the start commits, so a cancel that lands after it always finds the work.
        var handle = running.Track(job.RunId);
        try
        {
            var started = await StartInTransactionAsync(c, tx, job, run: null);
            if (started is not null)
            {
                return new PhaseStart(job, started, handle);
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
        using var handle = start.Handle;
        var (job, started) = (start.Job, (Started?)start.Started);
        while (started is not null && !handle.Cancel.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            signals.Events.Fire();
            var (next, nextStarted) = await RunPhaseAsync(job, started, handle, stopping);
            if (nextStarted is not null)
            {
                handedOver(next);
            }
            (job, started) = (next, nextStarted);
        }
    }

    /// <summary>One phase execution; returns the run's next phase when the finish transaction took it over.</summary>
    private async Task<(JobRow Job, Started? Next)> RunPhaseAsync(JobRow job, Started started, RunningExecutions.Handle handle, CancellationToken stopping)
    {
        foreach (var pid in started.Orphans)
        {
            // Only now that the start has committed: a start that rolled back left the lost execution running, and
            // the next start finds it again.
            ProcessRunner.KillOrphan(pid, job.RunId);
        }
        var clock = time.GetTimestamp();
        var timeoutAfter = started.Worker?.Config.Timeout is { } t && t < started.Phase.Timeout ? t : started.Phase.Timeout;
        using var timeout = new CancellationTokenSource(timeoutAfter, time);
        await using var lease = LeaseKeeper.Start(queue, job, time, logger);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token, handle.Cancel.Token, lease.Lost);
        Result result;
        await using var log = work.Log(job.RunId, started.Phase.Name, started.Iteration, job);
        try
        {
            result = await RunAsync(started, log, linked.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested || handle.Cancel.IsCancellationRequested || lease.IsLost)
        {
            // Node stopping: the job is claimed again after restart and this execution is recorded as lost.
            // Run cancelled: the cancel transaction has recorded everything already.
            // Lease lost: the job is another worker's now, which records this execution as lost; this one writes nothing.
            return (job, null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            result = new Result(null, $"timed out after {Durations.Format(timeoutAfter)}", false, AgentUsage.None, null, null, new Dictionary<string, string>());
        }
        catch (AgentFailedException ex)
        {
            result = new Result(null, ex.Message, false, ex.Usage, null, null, new Dictionary<string, string>());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            result = new Result(null, ex.Message, false, AgentUsage.None, null, null, new Dictionary<string, string>());
        }
        if (result.Error is { } error)
        {
            await log.WriteAsync("error", $"attempt {started.Attempt} failed: {error}");
        }
        var elapsed = time.GetElapsedTime(clock);
        metrics.PhaseExecutions.Observe(
            $"{Ops.NodeMetrics.Label("worker", started.Phase.Worker)},{Ops.NodeMetrics.Label("status", result.Error is null ? "success" : "error")}",
            elapsed.TotalSeconds);

        await lease.StopAsync();
        // The last lines go in with the finish, and leave the buffer only once it has committed: should it roll back,
        // disposing the log writes them (fenced by the lease, which a rollback leaves held).
        await log.SealAsync();
        var retryAt = Retries(started, result) ? time.GetUtcNow() + Backoff(started.Attempt) : (DateTimeOffset?)null;
        var (logged, decision, next) = await db.WriteAsync(async (c, tx) =>
        {
            // The fence is the first write: a worker that lost its lease ends nothing and writes nothing.
            if (!await JobQueue.EndAsync(c, tx, job, retryAt))
            {
                logger.LogWarning("Lost the lease on job {JobId} of run {RunId}; discarding the result of {ExecutionId}", job.Id, job.RunId, started.ExecutionId);
                return ((int?)null, (RunDecision?)null, ((JobRow, Started)?)null);
            }
            int? logged = await log.WriteBufferedAfterFenceAsync(c, tx);
            var (decision, run) = await FinishAsync(c, tx, job, started, result, (long)elapsed.TotalMilliseconds, retryAt);
            if (decision is not Transition { Jobs.Count: > 0 } || stopping.IsCancellationRequested)
            {
                return (logged, decision, null);
            }
            // The run's next phase starts in this same transaction, on this worker.
            var nextJob = await queue.ClaimNextOfRunAsync(c, tx, job.RunId);
            var nextStarted = nextJob is null ? null : await StartInTransactionAsync(c, tx, nextJob, run);
            return (logged, decision, nextJob is null || nextStarted is null ? null : (nextJob, nextStarted));
        }, CancellationToken.None);
        log.Written(logged, close: true);
        if (decision is not null)
        {
            transitions.AfterCommit(decision, jobsTaken: next is not null);
        }
        signals.Events.Fire();
        if (next is null)
        {
            // This worker's slot is free: a job held back by its concurrency limit may go now.
            signals.Jobs.Wake();
            return (job, null);
        }
        return next.Value;
    }

    private async Task<Result> RunAsync(Started s, LogSink log, CancellationToken ct)
    {
        if (s.WorkerProblem is { } problem)
        {
            return new Result(null, problem, true, AgentUsage.None, null, null, new Dictionary<string, string>());
        }
        // A folder only where something works in one: a repository's workspace, a program, or a check command.
        var needsFolder = s.Run.RepositoryId is not null || s.Worker is not null || s.Phase.Check is { Count: > 0 };
        var place = needsFolder ? await work.PrepareAsync(s.Run.Id, s.Run.RepositoryId, ct) : new Workplace(null, "", null);
        var workspace = place.Workspace;
        // Only the intake and earlier artifacts that the phase's templates, prompt or checks name.
        var inputs = await PhaseInputs.ReadAsync(db, s.Run.Id, PhaseInputs.NeedsOf(s.Phase, s.Worker is null ? null : s.Phase.Prompt ?? DefaultPrompt), ct);
        var earlier = inputs.Earlier.Contents;
        var input = new AgentInput(s.Run.Id, s.Run.ProjectName, inputs.Intake, s.Phase, s.Iteration, s.Feedback, inputs.Earlier);

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
            };
            outcome = await work.AgentFor(s.Worker).RunAsync(request, ct);
        }

        AgentWork.RestoreGitLink(place);
        var commit = workspace is null ? null : await workspaces.CommitAsync(workspace, $"baton: {s.Phase.Name} (run {s.Run.Id}, iteration {s.Iteration})", ct);
        if (commit is not null)
        {
            await log.WriteAsync("info", $"committed {commit.Commit[..12]}: {commit.FilesChanged} file(s) changed");
        }
        var check = s.Phase.Check is { Count: > 0 } argv && !s.SkipChecks ? await work.RunCheckAsync(argv, place, s.Run.Id, s.ExecutionId, s.Worker?.Config.Network ?? true, log, ct) : null;
        return new Result(outcome, null, false, outcome.Usage, commit, check, earlier);
    }

    /// <summary>The prompt of a phase that gives none: the intake, and the feedback that started this iteration.</summary>
    private const string DefaultPrompt = "{{intake}}\n\nReviewer feedback to address: {{feedback}}\n";

    /// <summary>
    /// Starts <paramref name="job"/>, claimed in this same transaction (so its lease needs no check): the execution row,
    /// the phase running, and a lost execution of an earlier claim recorded. <paramref name="run"/> is the run as the
    /// transition in this transaction left it when the job was just handed over, or null to read it.
    /// </summary>
    private async Task<Started?> StartInTransactionAsync(IDbConnection c, IDbTransaction tx, JobRow job, RunRow? run)
    {
        var handedOver = run is not null;
        run ??= await RunTransitions.LoadRunAsync(c, tx, job.RunId);
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
        var lost = job.Attempts == 1 ? [] : (await c.QueryAsync<(string Id, int? Pid)>(
            """
            UPDATE executions SET status = 'error', error_message = 'worker lost', completed_at = @now, duration_ms = @now - started_at
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration AND status = 'running'
            RETURNING id, pid
            """, key, tx)).ToList();
        var orphans = new List<int>();
        foreach (var (id, pid) in lost)
        {
            // The agent of a crashed server may still be running in the workspace: it is stopped before the phase
            // runs again, once this transaction has committed.
            var stopped = pid is { } p && ProcessRunner.IsOrphanOf(p, run.Id);
            if (stopped)
            {
                orphans.Add(pid!.Value);
            }
            await EventLog.AppendAsync(c, tx, run.Id, new RunEvent("execution.lost", phase.Name, iteration, null,
                new Dictionary<string, object?> { ["execution_id"] = id, ["orphan_stopped"] = stopped }), now);
            await RunLogs.AppendAsync(c, tx, run.Id, phase.Name, iteration, "warn",
                [$"execution {id} was interrupted (worker lost){(stopped ? "; its agent process was stopped" : "")}; running the phase again"], now);
        }

        WorkerDefinition? worker = null;
        string? problem = null;
        if (phase.Worker != PhaseDefinition.TemplateWorker)
        {
            worker = (await WorkerStore.FindAsync(c, tx, phase.Worker))?.ToDefinition();
            problem = worker is null ? $"no worker named '{phase.Worker}' (create it with POST /api/workers)" : null;
        }

        var phaseRun = await c.QuerySingleAsync<(string? Feedback, string? ValidationSkippedBy, int Attempts)>(
            """
            UPDATE phase_runs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, @now), error = NULL
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration
            RETURNING feedback, validation_skipped_by, attempts
            """, key, tx);
        var executionId = Ids.New("exe", time);
        await c.ExecuteAsync(
            """
            INSERT INTO executions(id, run_id, phase, iteration, worker, worker_kind, status, created_at, started_at)
            VALUES (@executionId, @runId, @phase, @iteration, @worker, @kind, 'running', @now, @now)
            """, new { executionId, key.runId, key.phase, iteration, worker = phase.Worker, kind = worker?.Kind ?? WorkerKinds.Template, key.now }, tx);
        await EventLog.AppendAsync(c, tx, run.Id, new RunEvent("phase.started", phase.Name, iteration, null,
            new Dictionary<string, object?> { ["attempt"] = phaseRun.Attempts, ["execution_id"] = executionId, ["worker"] = phase.Worker }), now);
        if (!handedOver)
        {
            // After a hand-off the transition in this transaction has just set it.
            await c.ExecuteAsync("UPDATE runs SET updated_at = @now WHERE id = @runId", key, tx);
        }
        return new Started(run, phase, iteration, phaseRun.Feedback, phaseRun.ValidationSkippedBy is not null, executionId, phaseRun.Attempts, worker, problem, orphans);
    }

    /// <summary>Whether a failed attempt runs again: an error that trying again could help, with attempts left.</summary>
    private static bool Retries(Started s, Result r) => r.Outcome is null && !r.Permanent && s.Attempt < s.Phase.MaxAttempts;

    /// <summary>After the fence (<see cref="JobQueue.EndAsync"/>): records the execution and hands the outcome to the decider.</summary>
    private async Task<(RunDecision? Decision, RunRow? Run)> FinishAsync(IDbConnection c, IDbTransaction tx, JobRow job, Started s, Result r, long durationMs, DateTimeOffset? retryAt)
    {
        var now = time.GetUtcNow();
        var phase = s.Phase.Name;
        await c.ExecuteAsync(
            """
            UPDATE executions SET status = @status, error_message = @Error, completed_at = @now, duration_ms = @durationMs,
                tokens_in = @TokensIn, tokens_out = @TokensOut, cost_usd = @cost, tool_calls = @ToolCalls, summary = @summary,
                files_changed = @files, diff = @diff, tests_run = @testsRun, tests_passed = @testsPassed
            WHERE id = @ExecutionId
            """,
            new
            {
                status = r.Error is null ? "success" : "error",
                r.Error,
                now = now.ToMs(),
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
                s.ExecutionId,
            }, tx);
        if (r.Usage.CostUsd != 0 || r.Usage.TokensIn + r.Usage.TokensOut != 0)
        {
            await c.ExecuteAsync(
                "UPDATE runs SET cost_usd = cost_usd + @cost, tokens_used = tokens_used + @tokens WHERE id = @RunId",
                new { cost = (double)r.Usage.CostUsd, tokens = r.Usage.TokensIn + r.Usage.TokensOut, job.RunId }, tx);
        }

        if (r.Outcome is { } outcome)
        {
            var artifacts = outcome.Artifacts.ToList();
            if (r.Commit is { } commit)
            {
                await GitWorkspaces.RecordFinishedAsync(c, tx, job.RunId, commit.Commit);
                if (commit.Diff.Length > 0)
                {
                    artifacts.Add(new ProducedArtifact($"{phase}.diff.patch", commit.Diff));
                }
            }
            foreach (var artifact in artifacts)
            {
                await ArtifactStore.SaveAsync(c, tx, job.RunId, phase, s.Iteration, artifact.Name, artifact.Content, now);
                await EventLog.AppendAsync(c, tx, job.RunId, new RunEvent("artifact.created", phase, s.Iteration, null,
                    new Dictionary<string, object?> { ["name"] = artifact.Name }), now);
            }
            var failures = s.SkipChecks ? [] : Checks.Evaluate(s.Phase, outcome.Artifacts.ToDictionary(a => a.Name, a => a.Content), r.Earlier).ToList();
            if (r.Check is { ExitCode: not 0 } check)
            {
                failures.Add($"`{check.Command}` exited with code {check.ExitCode}" + (check.TestsRun is { } run ? $" ({check.TestsPassed}/{run} tests passed)" : ""));
            }
            var succeeded = await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseSucceeded(phase, s.Iteration, failures));
            return (succeeded.Decision, succeeded.Run);
        }

        if (retryAt is { } at)
        {
            await c.ExecuteAsync("UPDATE phase_runs SET status = 'pending', error = @Error WHERE run_id = @RunId AND phase = @phase AND iteration = @Iteration",
                new { r.Error, job.RunId, phase, s.Iteration }, tx);
            await EventLog.AppendAsync(c, tx, job.RunId, new RunEvent("phase.retry_scheduled", phase, s.Iteration, null,
                new Dictionary<string, object?> { ["attempt"] = s.Attempt, ["error"] = r.Error, ["retry_at"] = at }), now);
            return (null, null);
        }
        var failed = await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseFailed(phase, s.Iteration, r.Error ?? "failed"));
        return (failed.Decision, failed.Run);
    }

    public static TimeSpan Backoff(int attempt) => TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, attempt)));
}
