using Baton.Runs;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

public sealed class EngineOptions
{
    /// <summary>Jobs this node works on at once.</summary>
    public int Concurrency { get; set; } = 4;
}

/// <summary>
/// The node's workers: each claims a due job, runs it, and claims again at once; with nothing due it sleeps
/// until a signal, the next due time, or a slow poll — so an idle node uses no CPU and a new job starts at once.
/// </summary>
public sealed class EngineHost(
    JobQueue queue,
    PhaseExecutor phases,
    StandaloneExecutor standalone,
    RunTransitions transitions,
    Database db,
    EngineSignals signals,
    EngineOptions options,
    TimeProvider time,
    ILogger<EngineHost> logger) : BackgroundService
{
    /// <summary>How often a job may fail with an exception (not an agent failure) before its run fails.</summary>
    public const int MaxJobAttempts = 5;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var loops = Enumerable.Range(0, options.Concurrency).Select(_ => WorkLoopAsync(stoppingToken));
        await Task.WhenAll(loops);
    }

    private async Task WorkLoopAsync(CancellationToken ct)
    {
        var claimedAgain = false;
        while (!ct.IsCancellationRequested)
        {
            using var ticket = signals.Jobs.Enter();
            try
            {
                var job = await queue.ClaimAsync(ct);
                if (job is not null)
                {
                    claimedAgain = false;
                    ticket.PassOn();
                    await ProcessAsync(job, ct);
                    continue;
                }
                var delay = await queue.IdleDelayAsync(ct);
                if (delay == TimeSpan.Zero)
                {
                    if (!claimedAgain)
                    {
                        // A job may have come due between the claim and this look (a retry's backoff ending, a gate's
                        // deadline passing): claim once more before taking the due jobs for ones held back by limits.
                        claimedAgain = true;
                        continue;
                    }
                    // Jobs are due but none could be claimed: their workers are at their limits. An execution
                    // ending wakes a worker; until then, do not spin.
                    delay = JobQueue.IdlePoll;
                }
                else
                {
                    claimedAgain = false;
                }
                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(ct);
                await Task.WhenAny(ticket.Woken, Task.Delay(delay, time, sleep.Token));
                await sleep.CancelAsync();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Engine worker failed; carrying on");
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task ProcessAsync(JobRow job, CancellationToken ct)
    {
        try
        {
            switch (job.Kind)
            {
                case JobRequest.ExecutePhase:
                    await phases.ExecuteAsync(job, ct);
                    break;
                case JobRequest.RunExecution:
                    await standalone.ExecuteAsync(job, ct);
                    break;
                case JobRequest.ExpireGate:
                    var decision = await db.WriteAsync(async (c, tx) =>
                    {
                        if (!await JobQueue.HoldsLeaseAsync(c, tx, job))
                        {
                            return null;
                        }
                        await JobQueue.DeleteAsync(c, tx, job);
                        return (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new GateTimedOut(job.Phase!, job.Iteration!.Value))).Decision;
                    }, ct);
                    if (decision is not null)
                    {
                        transitions.AfterCommit(decision);
                    }
                    break;
                default:
                    logger.LogError("Unknown job kind {Kind} (job {JobId}); dropping it", job.Kind, job.Id);
                    await db.WriteAsync((c, tx) => JobQueue.DeleteAsync(c, tx, job), ct);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A bug or a database error, not an agent failure: try the job again later rather than lose it,
            // but not forever: a job that keeps failing ends its run as failed, with the reason.
            if (job.Attempts < MaxJobAttempts)
            {
                logger.LogError(ex, "Job {JobId} ({Kind}) of run {RunId} failed; retrying later", job.Id, job.Kind, job.RunId);
                await db.WriteAsync((c, tx) => JobQueue.RescheduleAsync(c, tx, job, time.GetUtcNow() + PhaseExecutor.Backoff(job.Attempts)), CancellationToken.None);
                return;
            }
            logger.LogError(ex, "Job {JobId} ({Kind}) of run {RunId} failed {Attempts} times; failing the run", job.Id, job.Kind, job.RunId, job.Attempts);
            var decision = await db.WriteAsync(async (c, tx) =>
            {
                if (!await JobQueue.HoldsLeaseAsync(c, tx, job))
                {
                    return null;
                }
                await JobQueue.DeleteAsync(c, tx, job);
                var error = "engine error: " + ex.Message;
                if (job.Kind == JobRequest.RunExecution)
                {
                    // Ended with its job: a pending or running execution without one would hold a slot of its worker forever.
                    await c.ExecuteAsync(
                        "UPDATE executions SET status = 'error', error_message = @error, completed_at = @now WHERE id = @ExecutionId AND status IN ('pending', 'running')",
                        new { job.ExecutionId, error, now = time.GetUtcNow().ToMs() }, tx);
                }
                if (job.Kind != JobRequest.ExecutePhase)
                {
                    return null;
                }
                await c.ExecuteAsync(
                    "UPDATE executions SET status = 'error', error_message = @error, completed_at = @now WHERE run_id = @RunId AND phase = @Phase AND iteration = @Iteration AND status = 'running'",
                    new { job.RunId, job.Phase, job.Iteration, error, now = time.GetUtcNow().ToMs() }, tx);
                return (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseFailed(job.Phase!, job.Iteration!.Value, error))).Decision;
            }, CancellationToken.None);
            if (decision is not null)
            {
                transitions.AfterCommit(decision);
            }
            signals.Events.Fire();
            signals.Jobs.Wake();
        }
    }
}
