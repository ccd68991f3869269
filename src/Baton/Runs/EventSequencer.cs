using Baton.Engine;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// On PostgreSQL, gives committed events their ids (<see cref="EventLog.GiveIdsAsync"/>, ADR 27) and then wakes the
/// readers on every node. Every node runs one: a node that wrote events asks its own for a pass right after the commit,
/// so the ids do not wait for a message to another node; passes of several nodes queue on the sequencer lock, and each
/// takes everything committed before it. Nothing on SQLite, where an event has its id at insert.
/// </summary>
/// <remarks>
/// A node that dies between its commit and its pass leaves its events without ids until the next pass anywhere: each
/// node also looks every <see cref="Poll"/>, so they become readable within a second, in their order.
/// </remarks>
public sealed class EventSequencer(Database db, EngineSignals signals, TimeProvider time, ILogger<EventSequencer> logger) : BackgroundService
{
    /// <summary>How many events one pass gives ids to; a pass that gives this many is followed by another at once.</summary>
    public const int PassSize = 10_000;

    /// <summary>The longest committed events wait for their ids when no signal comes (their writer died).</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    private readonly Pulse _asked = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (db.Dialect.SingleWriter)
        {
            return;
        }
        signals.GiveEventIds = _asked.FireHere;
        var wasAsked = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            var asked = _asked.Current;
            try
            {
                // Asked after a commit: the readers wake even when another node's pass gave the ids first, as they
                // did when woken by the commit itself (a waiter on the signal may be watching other state it changed).
                await PassAsync(wakeReaders: wasAsked, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The events keep waiting, committed; the next signal or poll tries again.
                logger.LogWarning(e, "Giving new events their ids failed");
            }
            using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                wasAsked = await Task.WhenAny(asked, Task.Delay(Poll, time, sleep.Token)) == asked;
            }
            finally
            {
                await sleep.CancelAsync();
            }
        }
    }

    /// <summary>
    /// Before a read that must show every event committed so far (a log asked for through the API, a log download):
    /// gives ids now to whatever committed without one yet, rather than at this node's next pass. The run a client saw
    /// completed is then sure to show its last log lines. Nothing on SQLite.
    /// </summary>
    public async Task CatchUpAsync(CancellationToken ct)
    {
        if (!db.Dialect.SingleWriter && await db.ReadAsync(c => EventLog.AnyWithoutIdAsync(c), ct))
        {
            await PassAsync(wakeReaders: false, ct);
        }
    }

    /// <summary>Gives every committed event without an id its id, and wakes the readers if there was any or <paramref name="wakeReaders"/> (PostgreSQL).</summary>
    public async Task PassAsync(bool wakeReaders, CancellationToken ct)
    {
        if (db.Dialect.SingleWriter)
        {
            return;
        }
        var given = 0;
        int pass;
        do
        {
            // A write outside WriteAsync's transaction: the pass is one round trip, its own transaction (GiveIdsAsync).
            pass = await db.ReadAsync(c => EventLog.GiveIdsAsync(c, PassSize), ct);
            given += pass;
        }
        while (pass == PassSize);
        if (given > 0 || wakeReaders)
        {
            signals.Events.Fire();
        }
    }
}
