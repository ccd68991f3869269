using Baton.Storage;

namespace Baton.Engine;

/// <summary>
/// Holds a job's lease while its work runs: renews it every third of the lease. When a renewal finds the lease gone
/// (another worker took the job) or the lease runs out before a renewal lands, <see cref="Lost"/> fires and the work
/// must stop: another worker may be doing it again, and everything this one would write is fenced off anyway.
/// </summary>
public sealed class LeaseKeeper : IAsyncDisposable
{
    public static readonly TimeSpan RenewEvery = JobQueue.LeaseDuration / 3;

    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _keeping;

    private LeaseKeeper(JobQueue queue, JobRow job, TimeProvider time, ILogger logger) =>
        _keeping = KeepAsync(queue, job, time, logger);

    /// <summary>Cancelled once the lease is lost; link it into the work's cancellation.</summary>
    public CancellationToken Lost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    public static LeaseKeeper Start(JobQueue queue, JobRow job, TimeProvider time, ILogger logger) => new(queue, job, time, logger);

    /// <summary>
    /// Whether the work may go on after a renewal attempt: yes if it renewed, no if the lease was gone, and after a
    /// failed attempt (the database busy, say) only while the lease it last had still runs.
    /// </summary>
    public static bool StillHeld(bool? renewed, DateTimeOffset heldUntil, DateTimeOffset now) => renewed ?? now < heldUntil;

    /// <summary>Stops renewing (before the finish transaction, which ends the lease) and waits until no renewal is in flight.</summary>
    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }
        await _keeping;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _lost.Dispose();
    }

    private async Task KeepAsync(JobQueue queue, JobRow job, TimeProvider time, ILogger logger)
    {
        var heldUntil = Times.FromMs(job.LeaseExpiresAt);
        try
        {
            while (true)
            {
                await Task.Delay(RenewEvery, time, _stop.Token);
                bool? renewed;
                try
                {
                    var until = await queue.RenewAsync(job, _stop.Token);
                    renewed = until is not null;
                    heldUntil = until ?? heldUntil;
                }
                catch (Microsoft.Data.Sqlite.SqliteException ex)
                {
                    logger.LogWarning(ex, "Could not renew the lease of job {JobId}; trying again", job.Id);
                    renewed = null;
                }
                if (!StillHeld(renewed, heldUntil, time.GetUtcNow()))
                {
                    logger.LogWarning("Job {JobId} of {OwnerId} lost its lease; stopping its work", job.Id, job.RunId);
                    await _lost.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopped: the work is over.
        }
    }
}
