using System.Collections.Concurrent;

namespace Baton.Tests.Support;

/// <summary>
/// <see cref="FakeTimeProvider"/> (time moves only on <see cref="FakeTimeProvider.Advance"/>, which fires the timers it
/// passes), which also tells which timers are pending: a test waits until the code under test sleeps before it moves
/// time past that sleep.
/// </summary>
public sealed class TestClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly ConcurrentDictionary<WatchedTimer, DateTimeOffset> _pending = new();

    /// <summary>Whether a timer (a Task.Delay, say) is due exactly this long from now.</summary>
    public bool HasTimerDueIn(TimeSpan dueIn)
    {
        var at = GetUtcNow() + dueIn;
        return _pending.Values.Contains(at);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var watched = new WatchedTimer(this);
        watched.Watch(dueTime, period);
        watched.Inner = base.CreateTimer(s =>
        {
            watched.Fired();
            callback(s);
        }, state, dueTime, period);
        return watched;
    }

    private sealed class WatchedTimer(TestClock clock) : ITimer
    {
        private TimeSpan _period;

        public ITimer Inner { get; set; } = null!;

        public void Watch(TimeSpan dueTime, TimeSpan period)
        {
            _period = period;
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                clock._pending.TryRemove(this, out _);
            }
            else
            {
                clock._pending[this] = clock.GetUtcNow() + dueTime;
            }
        }

        public void Fired() => Watch(_period > TimeSpan.Zero ? _period : Timeout.InfiniteTimeSpan, _period);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Watch(dueTime, period);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            clock._pending.TryRemove(this, out _);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
