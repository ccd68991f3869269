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

    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly JobQueue _queue;
    private readonly JobRow _job;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private DateTimeOffset _heldUntil;
    private Task _renewing = Task.CompletedTask;
    private bool _stopped;

    /// <summary>A tick came while a renewal was in flight: renew again as soon as it is done.</summary>
    private bool _renewAgain;

    /// <remarks>
    /// One periodic timer per execution, created here and disposed with the keeper (after the finish transaction):
    /// bench/Baton.Bench/PhaseMarks.cs times phase executions by exactly that.
    /// </remarks>
    private LeaseKeeper(JobQueue queue, JobRow job, TimeProvider time, ILogger logger)
    {
        (_queue, _job, _time, _logger) = (queue, job, time, logger);
        _heldUntil = Times.FromMs(job.LeaseExpiresAt);
        _timer = time.CreateTimer(_ => Renew(), null, RenewEvery, RenewEvery);
    }

    /// <summary>Cancelled once the lease is lost; link it into the work's cancellation.</summary>
    public CancellationToken Lost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    public static LeaseKeeper Start(JobQueue queue, JobRow job, TimeProvider time, ILogger logger) => new(queue, job, time, logger);

    /// <summary>
    /// Whether the work may go on after a renewal attempt: yes if it renewed, no if the lease was gone, and after a
    /// failed attempt (the database busy, say) only while the lease it last had still runs.
    /// </summary>
    public static bool StillHeld(bool? renewed, DateTimeOffset heldUntil, DateTimeOffset now) => renewed ?? now < heldUntil;

    /// <summary>
    /// Stops renewing before the finish transaction, which ends the lease (a renewal after it would find the job gone
    /// and call the lease lost), and waits until no renewal is in flight.
    /// </summary>
    public Task StopAsync()
    {
        lock (_lock)
        {
            _stopped = true;
            return _renewing;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _timer.DisposeAsync();
        _lost.Dispose();
    }

    private void Renew()
    {
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }
            // One renewal at a time: a tick that comes while the last one is still in flight (waiting for the database,
            // or just past its commit) renews right after it. The lease runs out all the same: past it, the work stops
            // rather than wait on.
            if (!_renewing.IsCompleted)
            {
                _renewAgain = true;
                if (!StillHeld(null, _heldUntil, _time.GetUtcNow()))
                {
                    _ = LoseAsync();
                }
                return;
            }
            _renewing = RenewAsync();
        }
    }

    private async Task RenewAsync()
    {
        bool? renewed;
        try
        {
            var until = await _queue.RenewAsync(_job, CancellationToken.None);
            renewed = until is not null;
            lock (_lock)
            {
                _heldUntil = until ?? _heldUntil;
            }
        }
        catch (Exception ex)
        {
            // Whatever the failure (the database busy or broken, the node shutting down), the lease was not renewed.
            _logger.LogWarning(ex, "Could not renew the lease of job {JobId}; trying again", _job.Id);
            renewed = null;
        }
        DateTimeOffset heldUntil;
        lock (_lock)
        {
            heldUntil = _heldUntil;
        }
        if (!StillHeld(renewed, heldUntil, _time.GetUtcNow()))
        {
            await LoseAsync();
            return;
        }
        lock (_lock)
        {
            if (_renewAgain && !_stopped)
            {
                _renewAgain = false;
                _renewing = RenewAsync();
            }
        }
    }

    private async Task LoseAsync()
    {
        if (_lost.IsCancellationRequested)
        {
            return;
        }
        _logger.LogWarning("Job {JobId} of {OwnerId} lost its lease; stopping its work", _job.Id, _job.RunId);
        try
        {
            await _lost.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The work ended meanwhile.
        }
    }
}
