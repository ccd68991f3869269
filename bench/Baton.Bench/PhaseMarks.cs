using System.Diagnostics;
using Baton.Engine;

namespace Baton.Bench;

/// <summary>
/// The system clock, plus Stopwatch marks of when the engine starts and finishes each phase execution — the
/// events table stores milliseconds, too coarse for a wake-up that takes a fraction of one.
/// </summary>
/// <remarks>
/// No hook exists in src for this, and the bench must not change src, so it leans on one detail of
/// <see cref="PhaseExecutor"/>: right after an execution's start transaction commits it arms a lease-renewal
/// timer (due and period <c>JobQueue.LeaseDuration / 3</c>) through the injected <see cref="TimeProvider"/>, and
/// <see cref="ExecutionLifecycle.FinishAsync"/> disposes that timer right after the finish transaction commits. So
/// "renewal timer created" = phase started (durably), "renewal timer disposed" = phase finished (durably).
/// If that detail changes, the latency part sees no marks and says so instead of reporting nonsense.
/// </remarks>
internal sealed class PhaseMarks : TimeProvider
{
    private static readonly TimeSpan RenewalPeriod = JobQueue.LeaseDuration / 3;

    private readonly Lock _lock = new();
    private readonly List<Mark> _marks = [];
    private int _finished;
    private (int Target, TaskCompletionSource Done)? _waiter;

    public readonly record struct Mark(long Timestamp, bool Start);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _marks.Count;
            }
        }
    }

    public int Finished => Volatile.Read(ref _finished);

    public IReadOnlyList<Mark> Snapshot(int from, int to)
    {
        lock (_lock)
        {
            return _marks.GetRange(from, to - from);
        }
    }

    /// <summary>Completes once <paramref name="target"/> phase executions have finished since this provider was made.</summary>
    public Task WhenFinishedAsync(int target, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_finished >= target)
            {
                return Task.CompletedTask;
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiter = (target, done);
            return done.Task.WaitAsync(timeout);
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime != RenewalPeriod || period != RenewalPeriod)
        {
            return timer;
        }
        Record(start: true);
        return new MarkedTimer(timer, this);
    }

    private void Record(bool start)
    {
        lock (_lock)
        {
            // The timestamp is taken under the lock so that the list is in time order.
            _marks.Add(new Mark(Stopwatch.GetTimestamp(), start));
            if (!start)
            {
                _finished++;
                if (_waiter is { } w && _finished >= w.Target)
                {
                    _waiter = null;
                    w.Done.TrySetResult();
                }
            }
        }
    }

    private sealed class MarkedTimer(ITimer inner, PhaseMarks owner) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Record(start: false);
            }
            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
