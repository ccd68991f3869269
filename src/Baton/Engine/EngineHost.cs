using Baton.Runs;
using Baton.Storage;

namespace Baton.Engine;

public sealed class EngineOptions
{
    /// <summary>BATON_WORKERS when unset (ADR 22, ADR 60).</summary>
    public const int DefaultConcurrency = 128;

    /// <summary>Jobs this node works on at once.</summary>
    public int Concurrency { get; set; } = DefaultConcurrency;

    /// <summary>Whether this node claims jobs at all: not with BATON_ROLE=api.</summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>
/// The node's workers: each claims a due job, runs it, and claims again at once; with nothing to claim it sleeps
/// until woken by a signal or by the node's pacemaker (a job due by time): an idle node uses no CPU and a new job
/// starts at once.
/// </summary>
public sealed class EngineHost(
    JobQueue queue,
    PhaseExecutor phases,
    StandaloneExecutor standalone,
    Webhooks.WebhookSender webhooks,
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
        if (!options.Enabled)
        {
            return;
        }
        await Task.Yield();
        var loops = Enumerable.Range(0, options.Concurrency).Select(_ => WorkLoopAsync(stoppingToken));
        await Task.WhenAll(loops.Append(PaceAsync(stoppingToken)));
    }

    /// <summary>A worker: claims and runs jobs while there are any, then sleeps until woken (a new job, a freed slot, the pacemaker).</summary>
    private async Task WorkLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            using var ticket = signals.Jobs.Enter();
            try
            {
                var claimed = await ClaimAsync(ct);
                if (claimed is not null)
                {
                    ticket.PassOn();
                    await ProcessAsync(claimed, ct);
                    continue;
                }
                await ticket.Woken.WaitAsync(ct);
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

    /// <summary>
    /// The node's one timer, for jobs that come due by time rather than by a signal: a retry's backoff ending, a gate's
    /// deadline, a lease that a stopped worker or node let run out. When the next of them comes due, it wakes as many
    /// idle workers as there are jobs to claim. A signal (jobs queued here or on another node, a slot freed) wakes
    /// workers itself; the pacemaker then looks again after <see cref="SignalGrace"/>, once the signalled claims have
    /// committed, for when the next job is due and for claimable jobs left over, and wakes workers for those. Its look
    /// so stays out of the way of the claims a signal set off. An idle node queries once per
    /// <see cref="JobQueue.IdlePoll"/>, not once per worker, and jobs held back by their worker's limit are not
    /// counted, so they cost no spinning.
    /// </summary>
    private async Task PaceAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var changed = signals.Jobs.Changed;
                var (claimable, nextAt) = await queue.DueAsync(options.Concurrency, ct);
                signals.Jobs.WakeWorkers(claimable);
                // From the clock as it is now, not as it was at the look: it may have moved meanwhile.
                var sleepFor = nextAt is { } at ? at - time.GetUtcNow() : JobQueue.IdlePoll;
                sleepFor = sleepFor < TimeSpan.Zero ? TimeSpan.Zero : sleepFor > JobQueue.IdlePoll ? JobQueue.IdlePoll : sleepFor;
                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (await Task.WhenAny(changed, Task.Delay(sleepFor, time, sleep.Token)) == changed)
                {
                    // Real time, not the node's clock: this is how long a signalled claim takes to commit.
                    await Task.Delay(SignalGrace, TimeProvider.System, ct);
                }
                await sleep.CancelAsync();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Engine pacemaker failed; carrying on");
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>How long the pacemaker leaves signalled workers to claim their jobs before it wakes others for them.</summary>
    private static readonly TimeSpan SignalGrace = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// What an engine error leads to: the job again after a backoff while it has attempts left (null when it has none),
    /// so a passing fault (a busy disk, say) costs a delay, and a lasting one ends its work with the reason.
    /// </summary>
    public static DateTimeOffset? RetryAfterError(int attempts, DateTimeOffset now) =>
        attempts < MaxJobAttempts ? now + PhaseExecutor.Backoff(attempts) : null;

    /// <summary>A claimed job; for an execution, started in the claim's transaction, or the error its start ran into.</summary>
    private sealed record Claimed(JobRow Job, ExecutionStart? Start, Exception? StartError);

    /// <summary>
    /// Claims a due job and, for an execution (a phase's or a standalone one), starts it in the same transaction. A
    /// start that fails is rolled back to its own savepoint and the claim still commits: the claim counts as an
    /// attempt, so a start that keeps failing ends its work (<see cref="FailAsync"/>) instead of being claimed again forever.
    /// </summary>
    private async Task<Claimed?> ClaimAsync(CancellationToken ct)
    {
        ExecutionStart? started = null;
        JobRow? startedJob = null;
        try
        {
            var claimed = await db.WriteAsync(async (c, tx) =>
            {
                // A try that failed before its COMMIT (PostgreSQL runs the closure again) tracked a start that never was.
                started?.Dispose();
                (started, startedJob) = (null, null);
                if (await queue.ClaimAsync(c, tx) is not { } claim)
                {
                    return null;
                }
                var job = claim.Job;
                if (job.Kind is not (JobRequest.ExecutePhase or JobRequest.RunExecution))
                {
                    return new Claimed(job, null, null);
                }
                var savepoint = (System.Data.Common.DbTransaction)tx;
                await savepoint.SaveAsync("start", ct);
                try
                {
                    started = job.Kind == JobRequest.ExecutePhase ? await phases.StartAsync(c, tx, job, claim.Run, claim.PhaseRun) : await standalone.StartAsync(c, tx, job);
                    // On PostgreSQL the start's held-back writes go with the COMMIT, one round trip fewer; should the
                    // server refuse one there, the claim is taken again below, alone, and charged with the failure.
                    await savepoint.ReleaseAtCommitAsync("start", ct);
                    startedJob = job;
                    return new Claimed(job, started, null);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    await savepoint.RollbackAsync("start", CancellationToken.None);
                    await savepoint.ReleaseAsync("start", CancellationToken.None);
                    return new Claimed(job, null, ex);
                }
            }, ct);
            if (claimed?.Start is { } start)
            {
                start.StopOrphans();
                signals.EventsCommitted();
            }
            return claimed;
        }
        catch (Exception ex) when (startedJob is { } job && db.Refused(ex))
        {
            // The start's writes were refused with the COMMIT: nothing committed, the claim included. Its agent never ran.
            started?.Dispose();
            var again = await db.WriteAsync((c, tx) => queue.ClaimByIdAsync(c, tx, job.Id), ct);
            return again is null ? null : new Claimed(again, null, ex);
        }
        catch
        {
            // The claim did not commit: neither did the start, whose work is tracked on this node from inside it.
            started?.Dispose();
            throw;
        }
    }

    private async Task ProcessAsync(Claimed claimed, CancellationToken ct)
    {
        // A phase's finish transaction may take over the run's next phase: an error is charged to the job running then.
        var job = claimed.Job;
        if (claimed.StartError is { } startError)
        {
            await FailAsync(job, startError);
            return;
        }
        try
        {
            switch (job.Kind)
            {
                case JobRequest.ExecutePhase:
                    if (claimed.Start is PhaseExecutor.PhaseStart phase)
                    {
                        await phases.ExecuteAsync(phase, next => job = next, ct);
                    }
                    break;
                case JobRequest.RunExecution:
                    await standalone.ExecuteAsync((StandaloneExecutor.StandaloneStart)claimed.Start!, ct);
                    break;
                case JobRequest.ExpireGate or JobRequest.RemindGate:
                    RunTrigger timer = job.Kind == JobRequest.ExpireGate ? new GateTimedOut(job.Phase!, job.Iteration!.Value) : new GateReminderDue(job.Phase!, job.Iteration!.Value);
                    var decision = await db.WriteAsync(async (c, tx) =>
                    {
                        // The run's jobs before anything else, the order every writer takes them in.
                        await JobQueue.LockOfRunAsync(c, tx, job.RunId);
                        return await JobQueue.EndAsync(c, tx, job)
                            ? (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, timer, jobsLocked: true)).Decision
                            : null;
                    }, ct);
                    if (decision is not null)
                    {
                        transitions.AfterCommit(decision);
                    }
                    break;
                case JobRequest.DeliverWebhook:
                    await webhooks.DeliverAsync(job, ct);
                    break;
                default:
                    logger.LogError("Unknown job kind {Kind} (job {JobId}); dropping it", job.Kind, job.Id);
                    await db.WriteAsync((c, tx) => JobQueue.DeleteAsync(c, tx, job), ct);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await FailAsync(job, ex);
        }
    }

    /// <summary>
    /// A bug or a database error, not an agent failure: the job is tried again later rather than lost, but not forever:
    /// a job that keeps failing ends its execution and run as failed, with the reason.
    /// </summary>
    private async Task FailAsync(JobRow job, Exception ex)
    {
        var now = time.GetUtcNow();
        var error = "engine error: " + ex.Message;
        if (RetryAfterError(job.Attempts, now) is { } retryAt)
        {
            logger.LogError(ex, "Job {JobId} ({Kind}) of {RunId} failed; retrying at {RetryAt}", job.Id, job.Kind, job.RunId, retryAt);
            await db.WriteAsync(async (c, tx) =>
            {
                if (!await JobQueue.EndAsync(c, tx, job, retryAt))
                {
                    return;
                }
                // A phase execution it left running stays so: the retry's start records it as lost, and stops its agent
                // if that still runs (an orphan of a crash before this attempt, say).
                await EventLog.AppendLogsAsync(c, tx, job.ExecutionId ?? job.RunId, job.Phase, job.Iteration, "error",
                    [$"{error}; trying again at {retryAt:O} (attempt {job.Attempts} of {MaxJobAttempts})"], now);
            }, CancellationToken.None);
            signals.EventsCommitted();
            // A sleeping worker looked at the queue before this job moved: one wakes to note its new time.
            signals.Jobs.Wake();
            return;
        }
        logger.LogError(ex, "Job {JobId} ({Kind}) of {RunId} failed {Attempts} times; giving up", job.Id, job.Kind, job.RunId, job.Attempts);
        var decision = await db.WriteAsync(async (c, tx) =>
        {
            // The run's jobs before its executions and its row, the order every writer takes them in.
            await JobQueue.LockOfRunAsync(c, tx, job.RunId);
            if (!await JobQueue.EndAsync(c, tx, job))
            {
                return null;
            }
            if (job.Kind == JobRequest.RunExecution)
            {
                // Ended with its job: a pending or running execution without one would hold a slot of its worker forever.
                if (await ExecutionStore.EndWithErrorAsync(c, tx, job.ExecutionId!, error, now.ToMs()))
                {
                    await ExecutionEvents.AppendAsync(c, tx, job.ExecutionId!, ExecutionStatus.Error, error, now);
                }
            }
            if (job.Kind != JobRequest.ExecutePhase)
            {
                return null;
            }
            await ExecutionStore.EndRunningOfPhaseAsync(c, tx, job.RunId, job.Phase!, job.Iteration!.Value, error, now.ToMs());
            return (await transitions.ApplyInTransactionAsync(c, tx, job.RunId, new PhaseFailed(job.Phase!, job.Iteration!.Value, error), jobsLocked: true)).Decision;
        }, CancellationToken.None);
        if (decision is not null)
        {
            transitions.AfterCommit(decision);
        }
        signals.EventsCommitted();
        signals.Jobs.Wake();
    }
}
