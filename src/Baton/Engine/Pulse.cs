namespace Baton.Engine;

/// <summary>
/// "Look at the database now": wakes every waiter once. Carries no data, so losing it loses nothing —
/// waiters also wake on a timer, and the database is the only truth.
/// </summary>
public sealed class Pulse
{
    private TaskCompletionSource _next = NewSource();

    /// <summary>Take this before looking at the database, then await it: a pulse in between is not missed.</summary>
    public Task Current => Volatile.Read(ref _next).Task;

    public void Fire() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The node's in-process signals: new jobs to claim, new events to stream.</summary>
public sealed class EngineSignals
{
    public JobSignal Jobs { get; } = new();

    public Pulse Events { get; } = new();
}
