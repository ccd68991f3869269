using System.Data;
using Baton.Agents;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;

namespace Baton.Engine;

/// <summary>What one attempt at an execution came to: output, or an error (and whether trying again could help).</summary>
public sealed record AttemptResult(AgentOutcome? Outcome, string? Error, bool Permanent, AgentUsage Usage, PhaseCommit? Commit, CheckResult? Check)
{
    public static AttemptResult Failed(string error, AgentUsage? usage = null, bool permanent = false) =>
        new(null, error, permanent, usage ?? AgentUsage.None, null, null);

    /// <summary>
    /// With secrets masked (ADR 40) in all the agent's words that are kept: its error (a program's stderr tail), its
    /// summary, its artifacts and the diff of what it committed.
    /// </summary>
    public AttemptResult Redacted(Ops.Redactor redactor) => this with
    {
        Error = redactor.Redact(Error),
        Outcome = Outcome is { } o
            ? o with { Summary = redactor.Redact(o.Summary), Artifacts = [.. o.Artifacts.Select(a => a with { Content = redactor.Redact(a.Content) })] }
            : null,
        Commit = Commit is { } c ? c with { Diff = redactor.Redact(c.Diff) } : null,
    };
}

/// <summary>A finished attempt, how long it took, and its lease keeper (stopped; disposed once the finish has committed).</summary>
public sealed record Attempt(AttemptResult Result, long DurationMs, LeaseKeeper Lease);

/// <summary>
/// The one lifecycle of every execution, phase or standalone. It is started by its executor inside the claim's
/// transaction. <see cref="RunAsync"/> runs the agent under the job's lease, with a timeout and the cancel of its run.
/// <see cref="FinishAsync"/> then records it in a transaction whose first write is the lease fence. When the work is
/// lost (the node stopping, a cancel, the lease gone), nothing more is written: a cancel has recorded it, and a claim
/// after a restart or by another worker records it as lost.
/// </summary>
public sealed class ExecutionLifecycle(Database db, JobQueue queue, TimeProvider time, ILogger<ExecutionLifecycle> logger)
{
    /// <returns>The attempt, with timeouts and agent failures as errors; null when the work was lost.</returns>
    public async Task<Attempt?> RunAsync(JobRow job, RunningExecutions.Handle handle, TimeSpan timeout, Func<CancellationToken, Task<AttemptResult>> work, CancellationToken stopping)
    {
        var clock = time.GetTimestamp();
        using var timer = new CancellationTokenSource(timeout, time);
        var lease = LeaseKeeper.Start(queue, job, time, logger);
        var handedToFinish = false;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timer.Token, handle.Cancel.Token, lease.Lost);
            AttemptResult result;
            try
            {
                result = await work(linked.Token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested || handle.Cancel.IsCancellationRequested || lease.IsLost)
            {
                return null;
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested)
            {
                result = AttemptResult.Failed($"timed out after {Durations.Format(timeout)}");
            }
            catch (AgentFailedException ex)
            {
                result = AttemptResult.Failed(ex.Message, ex.Usage);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                result = AttemptResult.Failed(ex.Message);
            }
            // The lease is renewed until here: the finish's fence then finds it held unless another worker has the job.
            await lease.StopAsync();
            handedToFinish = true;
            return new Attempt(result.Redacted(Ops.Redactor.Process), (long)time.GetElapsedTime(clock).TotalMilliseconds, lease);
        }
        finally
        {
            if (!handedToFinish)
            {
                await lease.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The finish transaction: the run's jobs locked, the fence (ending the job, or moving it to <paramref name="retryAt"/>), the log lines
    /// still buffered, the execution's record, then <paramref name="then"/>, what the kind of execution adds, and all
    /// their events in one go. The log lines leave their buffer only once this has committed: should it roll back,
    /// disposing the log writes them. The lease keeper is disposed here, after the commit.
    /// </summary>
    /// <returns>Whether the fence held, and what <paramref name="then"/> returned.</returns>
    public async Task<(bool Held, T? Value)> FinishAsync<T>(
        JobRow job, string executionId, LogSink log, Attempt attempt, DateTimeOffset? retryAt, Func<IDbConnection, IDbTransaction, EventBatch, Task<T>> then)
    {
        await using var lease = attempt.Lease;
        await log.SealAsync();
        try
        {
            var (logged, value) = await db.WriteAsync(async (c, tx) =>
            {
                // The run's jobs first, the order every writer takes them in: a cancel that locked the run's other job
                // and waits for this one would otherwise deadlock with the transition below.
                await JobQueue.LockOfRunAsync(c, tx, job.RunId);
                await JobQueue.FenceAsync(c, tx, job, retryAt);
                var events = new EventBatch();
                var logged = log.AddBuffered(events);
                await ExecutionStore.FinishAsync(c, tx, executionId, attempt.Result, attempt.DurationMs, time.GetUtcNow().ToMs());
                var value = await then(c, tx, events);
                await events.WriteAsync(c, tx);
                return (logged, value);
            }, CancellationToken.None);
            log.Written(logged, close: true);
            return (true, value);
        }
        catch (LeaseLostException)
        {
            logger.LogWarning("Lost the lease on job {JobId} of {RunId}; discarding the result of {ExecutionId}", job.Id, job.RunId, executionId);
            log.Written(null, close: true);
            return (false, default);
        }
    }
}

/// <summary>
/// An execution started inside its claim's transaction, tracked on this node from before that commits (so a cancel
/// that lands after the commit always finds the work). The caller disposes it if that transaction does not commit.
/// </summary>
public abstract class ExecutionStart(JobRow job, string ownerId, RunningExecutions.Handle handle, IReadOnlyList<int> orphans) : IDisposable
{
    public JobRow Job { get; } = job;

    internal RunningExecutions.Handle Handle { get; } = handle;

    /// <summary>
    /// Stops the agents of lost executions that still run: only once the start has committed, since a start that
    /// rolled back left them recorded as running, and the next start finds them again.
    /// </summary>
    public void StopOrphans()
    {
        foreach (var pid in orphans)
        {
            ProcessRunner.KillOrphan(pid, ownerId);
        }
    }

    public void Dispose()
    {
        Handle.Dispose();
        GC.SuppressFinalize(this);
    }
}
