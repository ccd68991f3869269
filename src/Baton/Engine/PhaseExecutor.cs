using Baton.Agents;
using Baton.Artifacts;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

/// <summary>
/// Runs one `execute_phase` job: a start transaction (execution row, phase running, a lost execution recorded),
/// the agent outside any transaction, and a finish transaction fenced by the job's lease that stores artifacts
/// and logs and hands the outcome to <see cref="RunDecider"/>.
/// </summary>
public sealed class PhaseExecutor(
    Database db,
    JobQueue queue,
    RunTransitions transitions,
    RunningExecutions running,
    EngineSignals signals,
    Ops.NodeMetrics metrics,
    TimeProvider time,
    ILogger<PhaseExecutor> logger)
{
    private sealed record Started(RunRow Run, PhaseDefinition Phase, int Iteration, string? Feedback, bool SkipChecks,
        string ExecutionId, int Attempt, IReadOnlyDictionary<string, string> Earlier);

    public async Task ExecuteAsync(JobRow job, CancellationToken stopping)
    {
        // Tracked before the start transaction, so a cancel that lands after it commits always finds the work.
        using var handle = running.Track(job.RunId);
        var started = await db.WriteAsync((c, tx) => StartAsync(c, tx, job), stopping);
        if (started is null || handle.Cancel.IsCancellationRequested)
        {
            return;
        }
        signals.Events.Fire();
        // Read outside the write transaction: artifacts can be large, and writers queue behind it.
        var earlier = await db.ReadAsync(c => ArtifactStore.LatestContentsAsync(c, null, job.RunId), stopping);
        started = started with { Earlier = earlier };

        var clock = time.GetTimestamp();
        AgentResult? result = null;
        string? error = null;
        using var timeout = new CancellationTokenSource(started.Phase.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token, handle.Cancel.Token);
        using var renewal = RenewLeaseWhileRunning(job, linked.Token);
        try
        {
            var input = new AgentInput(job.RunId, started.Run.ProjectName, started.Run.Intake, started.Phase, started.Iteration, started.Feedback, started.Earlier);
            result = await TemplateAgent.RunAsync(input, time, linked.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested || handle.Cancel.IsCancellationRequested)
        {
            // Node stopping: the job is claimed again after restart and this execution is recorded as lost.
            // Run cancelled: the cancel transaction has recorded everything already.
            return;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            error = $"timed out after {Durations.Format(started.Phase.Timeout)}";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            error = ex.Message;
        }
        var elapsed = time.GetElapsedTime(clock);
        var durationMs = (long)elapsed.TotalMilliseconds;
        metrics.PhaseExecutions.Observe(
            $"{Ops.NodeMetrics.Label("worker", started.Phase.Worker)},{Ops.NodeMetrics.Label("status", result is null ? "error" : "success")}",
            elapsed.TotalSeconds);

        var decision = await db.WriteAsync((c, tx) => FinishAsync(c, tx, job, started, result, error, durationMs), CancellationToken.None);
        if (decision is not null)
        {
            transitions.AfterCommit(decision);
        }
        signals.Events.Fire();
    }

    private async Task<Started?> StartAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, JobRow job)
    {
        if (!await JobQueue.HoldsLeaseAsync(c, tx, job))
        {
            return null;
        }
        var run = await RunTransitions.LoadRunAsync(c, tx, job.RunId);
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

        var lost = (await c.QueryAsync<string>(
            """
            UPDATE executions SET status = 'error', error_message = 'worker lost', completed_at = @now, duration_ms = @now - started_at
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration AND status = 'running'
            RETURNING id
            """, key, tx)).ToList();
        foreach (var id in lost)
        {
            await EventLog.AppendAsync(c, tx, run.Id, new RunEvent("execution.lost", phase.Name, iteration, null, new Dictionary<string, object?> { ["execution_id"] = id }), now);
            await RunLogs.AppendAsync(c, tx, run.Id, phase.Name, iteration, "warn", [$"execution {id} was interrupted (worker lost); running the phase again"], now);
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
            VALUES (@executionId, @runId, @phase, @iteration, @worker, 'template', 'running', @now, @now)
            """, new { executionId, key.runId, key.phase, iteration, worker = phase.Worker, key.now }, tx);
        await EventLog.AppendAsync(c, tx, run.Id, new RunEvent("phase.started", phase.Name, iteration, null,
            new Dictionary<string, object?> { ["attempt"] = phaseRun.Attempts, ["execution_id"] = executionId, ["worker"] = phase.Worker }), now);
        await c.ExecuteAsync("UPDATE runs SET updated_at = @now WHERE id = @runId", key, tx);

        return new Started(run, phase, iteration, phaseRun.Feedback, phaseRun.ValidationSkippedBy is not null, executionId, phaseRun.Attempts, new Dictionary<string, string>());
    }

    private async Task<RunDecision?> FinishAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, JobRow job, Started s,
        AgentResult? result, string? error, long durationMs)
    {
        if (!await JobQueue.HoldsLeaseAsync(c, tx, job))
        {
            logger.LogWarning("Lost the lease on job {JobId} of run {RunId}; discarding the result of {ExecutionId}", job.Id, job.RunId, s.ExecutionId);
            return null;
        }
        var now = time.GetUtcNow();
        var phase = s.Phase.Name;
        await c.ExecuteAsync(
            "UPDATE executions SET status = @status, error_message = @error, completed_at = @now, duration_ms = @durationMs WHERE id = @ExecutionId",
            new { status = result is null ? "error" : "success", error, now = now.ToMs(), durationMs, s.ExecutionId }, tx);

        if (result is not null)
        {
            foreach (var artifact in result.Artifacts)
            {
                await ArtifactStore.SaveAsync(c, tx, job.RunId, phase, s.Iteration, artifact.Name, artifact.Content, now);
                await EventLog.AppendAsync(c, tx, job.RunId, new RunEvent("artifact.created", phase, s.Iteration, null,
                    new Dictionary<string, object?> { ["name"] = artifact.Name }), now);
            }
            await RunLogs.AppendAsync(c, tx, job.RunId, phase, s.Iteration, "info", result.Log, now);
            var produced = result.Artifacts.ToDictionary(a => a.Name, a => a.Content);
            var failures = s.SkipChecks ? [] : Checks.Evaluate(s.Phase, produced, s.Earlier);
            await JobQueue.DeleteAsync(c, tx, job);
            return (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseSucceeded(phase, s.Iteration, failures))).Decision;
        }

        await RunLogs.AppendAsync(c, tx, job.RunId, phase, s.Iteration, "error", [$"attempt {s.Attempt} failed: {error}"], now);
        if (s.Attempt < s.Phase.MaxAttempts)
        {
            var retryAt = now + Backoff(s.Attempt);
            await JobQueue.RescheduleAsync(c, tx, job, retryAt);
            await c.ExecuteAsync("UPDATE phase_runs SET status = 'pending', error = @error WHERE run_id = @RunId AND phase = @phase AND iteration = @Iteration",
                new { error, job.RunId, phase, s.Iteration }, tx);
            await EventLog.AppendAsync(c, tx, job.RunId, new RunEvent("phase.retry_scheduled", phase, s.Iteration, null,
                new Dictionary<string, object?> { ["attempt"] = s.Attempt, ["error"] = error, ["retry_at"] = retryAt }), now);
            return null;
        }
        await JobQueue.DeleteAsync(c, tx, job);
        return (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseFailed(phase, s.Iteration, error ?? "failed"))).Decision;
    }

    public static TimeSpan Backoff(int attempt) => TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, attempt)));

    private IDisposable RenewLeaseWhileRunning(JobRow job, CancellationToken ct)
    {
        var timer = time.CreateTimer(
            _ => _ = RenewQuietlyAsync(),
            null, JobQueue.LeaseDuration / 3, JobQueue.LeaseDuration / 3);
        return timer;

        async Task RenewQuietlyAsync()
        {
            try
            {
                if (!await queue.RenewAsync(job, ct))
                {
                    logger.LogWarning("Job {JobId} lost its lease", job.Id);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or Microsoft.Data.Sqlite.SqliteException)
            {
                logger.LogDebug(ex, "Lease renewal of job {JobId} skipped", job.Id);
            }
        }
    }
}
