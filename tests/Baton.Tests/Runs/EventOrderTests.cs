using Baton.Engine;
using Baton.Runs;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Runs;

/// <summary>
/// Event ids are the resumable cursor of every stream (Last-Event-ID): a reader that has seen id n asks for what comes
/// after n and never looks back. So an id must become visible only after every smaller id has: ids in commit order.
/// A sequence value taken at insert time is not that on PostgreSQL (T1 takes 5, T2 takes 6, T2 commits first, a reader
/// moves past 6, T1 commits, and 5 is never read); there, ids are given after commit (<see cref="EventSequencer"/>).
/// </summary>
public sealed class EventOrderTests
{
    private const int Writers = 8;
    private const int TransactionsPerWriter = 200;

    /// <summary>What the node's event feed reads at a time (<see cref="EventFeed"/>).</summary>
    private const int ReadBatch = 500;

    [Fact]
    public async Task A_reader_following_the_ids_sees_every_event_of_concurrent_writers_once_and_in_order()
    {
        using var factory = new BatonFactory();
        var db = factory.Service<Database>();
        var signals = factory.Service<EngineSignals>();
        // A second sequencer racing the node's own, as another node's would (PostgreSQL; nothing to do on SQLite).
        var otherNode = ActivatorUtilities.CreateInstance<EventSequencer>(factory.Services);
        var ownerPrefix = "exe_order_" + Guid.NewGuid().ToString("N")[..8];

        using var writersDone = new CancellationTokenSource();
        var seen = new List<long>();
        var reader = Task.Run(async () =>
        {
            // The feed's loop, polled as fast as it goes: the read after the writers stopped drains what is left.
            long last = 0;
            var drained = false;
            while (!drained)
            {
                drained = writersDone.IsCancellationRequested;
                while (true)
                {
                    var after = last;
                    var rows = (await db.ReadAsync(c => EventLog.AllAfterAsync(c, null, after, ReadBatch))).ToList();
                    seen.AddRange(rows.Select(r => r.Seq));
                    if (rows.Count > 0)
                    {
                        last = rows[^1].Seq;
                    }
                    if (rows.Count < ReadBatch)
                    {
                        break;
                    }
                }
            }
        });

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var owner = $"{ownerPrefix}_{w}";
            for (var t = 0; t < TransactionsPerWriter; t++)
            {
                var events = Enumerable.Range(0, 1 + random.Next(3))
                    .Select(i => new EventLog.NewEvent(owner, "test.appended", null, t, null, $$"""{"n":{{i}}}""", 0))
                    .ToList();
                // Some transactions stay open a little before their events, some between their events and the COMMIT:
                // the second is the window in which an id taken at insert is not yet visible but a later one may be.
                // These delays widen races; nothing waits on them.
                var pause = random.Next(8);
                await db.WriteAsync(async (c, tx) =>
                {
                    await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE run_id = @owner", new { owner }, tx);
                    if (pause == 0)
                    {
                        await Task.Delay(1 + random.Next(3));
                    }
                    await EventLog.AppendManyAsync(c, tx, events);
                    if (pause == 1)
                    {
                        await Task.Delay(1 + random.Next(3));
                    }
                });
                // What every writer does after its commit: on PostgreSQL the node's sequencer then gives the ids.
                signals.EventsCommitted();
                if (pause == 2)
                {
                    await otherNode.PassAsync(wakeReaders: false, CancellationToken.None);
                }
            }
        })).ToList();

        await Task.WhenAll(writers);
        // Whatever still waits for its id gets it before the reader's last look.
        await otherNode.PassAsync(wakeReaders: false, CancellationToken.None);
        await writersDone.CancelAsync();
        await reader;

        Assert.Equal(0, await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE seq IS NULL")));
        var committed = (await db.ReadAsync(c => c.QueryAsync<long>("SELECT seq FROM events ORDER BY seq"))).ToList();
        // Whole numbers without gaps: nothing rolled back here, and on PostgreSQL ids are given only to committed events.
        Assert.Equal(Enumerable.Range(1, committed.Count).Select(i => (long)i), committed);
        var ours = await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM events WHERE run_id LIKE @prefix", new { prefix = ownerPrefix + "%" }));
        Assert.True(ours >= Writers * TransactionsPerWriter, $"only {ours} of the writers' events committed");
        var missed = committed.Except(seen).ToList();
        Assert.True(missed.Count == 0,
            $"the reader never saw {missed.Count} of {committed.Count} committed events (it moved past them before they committed): {string.Join(", ", missed.Take(20))}");
        Assert.Equal(committed, seen);
    }
}
