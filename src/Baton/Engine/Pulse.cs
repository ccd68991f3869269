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

    /// <summary>Wakes this node's waiters and tells the other nodes (<see cref="Broadcast"/>).</summary>
    public void Fire()
    {
        FireHere();
        Broadcast?.Invoke();
    }

    /// <summary>Wakes this node's waiters only: for a pulse that came from another node.</summary>
    public void FireHere() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    /// <summary>How a pulse reaches the other nodes sharing the database (<see cref="ClusterSignals"/>); none on one node.</summary>
    public Action? Broadcast { get; set; }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The node's signals: new jobs to claim, new events to stream. Fired after a commit on this node; with several nodes
/// on PostgreSQL, <see cref="ClusterSignals"/> carries them to the others.
/// </summary>
public sealed class EngineSignals
{
    public JobSignal Jobs { get; } = new();

    /// <summary>New events can be read: fired once they have their ids.</summary>
    public Pulse Events { get; } = new();

    /// <summary>
    /// Where events get their ids after commit (PostgreSQL): asks this node's <see cref="Runs.EventSequencer"/> for a
    /// pass, which fires <see cref="Events"/> once the ids are given. Null on SQLite, where an event has its id at insert.
    /// </summary>
    public Action? GiveEventIds { get; set; }

    /// <summary>Call after a commit that wrote events.</summary>
    public void EventsCommitted()
    {
        if (GiveEventIds is { } giveIds)
        {
            giveIds();
        }
        else
        {
            Events.Fire();
        }
    }
}
