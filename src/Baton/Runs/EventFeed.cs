using Baton.Engine;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// The node's one reader of new events, fanning them out to every open stream. Before, each stream read the database
/// whenever any event was written: with 40 streams open one event cost 70 reads. Now the feed reads new events once
/// and keeps the latest few thousand in memory; a stream further behind (a resume from an old Last-Event-ID) reads
/// the database itself until it has caught up.
/// </summary>
/// <remarks>
/// SQLite has one writer, so events commit in sequence order: once the feed has read up to some seq, no event with a
/// lower seq can appear later, and "everything after seq N" is exactly what it holds after N.
/// </remarks>
public sealed class EventFeed(Database db, EngineSignals signals, BatonOptions options, TimeProvider time, ILogger<EventFeed> logger) : BackgroundService
{
    public const int Capacity = 4_096;

    /// <summary>Log lines can be long: the held events' data is bounded too (about 32 MB as UTF-16).</summary>
    public const long MaxChars = 16 * 1024 * 1024;
    private const int Batch = 500;

    /// <summary>A write that forgot to signal is still seen this soon.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private readonly List<EventLog.EventRow> _events = [];

    /// <summary>Every event with a seq above this and up to <see cref="_tail"/> is in <see cref="_events"/>; -1 until the first read.</summary>
    private long _floor = -1;

    private long _tail = -1;

    private long _chars;

    /// <summary>The seq of the newest event held; -1 until the first read.</summary>
    public long Tail
    {
        get
        {
            lock (_lock)
            {
                return _tail;
            }
        }
    }

    /// <summary>Fires after new events are held: streams wait on this instead of on the writers' signal.</summary>
    public Pulse Updated { get; } = new();

    /// <summary>
    /// The events after <paramref name="after"/> (of one run, or of every run but log lines when <paramref name="runId"/>
    /// is null), at most <paramref name="limit"/>; false when the feed does not hold them all and the database must answer.
    /// </summary>
    public bool TryRead(string? runId, long after, int limit, out List<EventLog.EventRow> events)
    {
        events = [];
        lock (_lock)
        {
            if (_floor < 0 || after < _floor)
            {
                return false;
            }
            // Binary search for the first event after `after`; the list is in seq order.
            int lo = 0, hi = _events.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_events[mid].Seq <= after)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            for (var i = lo; i < _events.Count && events.Count < limit; i++)
            {
                var e = _events[i];
                if (runId is null ? e.Type != EventLog.LogType : e.RunId == runId)
                {
                    events.Add(e);
                }
            }
            return true;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Role == BatonOptions.WorkerRole)
        {
            // A worker node serves no event streams, and hears of webhook deliveries from their own NOTIFY: reading every
            // event that any node commits would only take CPU from the agents (and from the wake-ups of its workers).
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = signals.Events.Current;
            try
            {
                await ReadNewAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Streams fall back to the database meanwhile; the next signal or poll tries again.
                logger.LogWarning(e, "Reading new events for the open streams failed");
            }
            using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                await Task.WhenAny(wake, Task.Delay(Poll, time, sleep.Token));
            }
            finally
            {
                await sleep.CancelAsync();
            }
        }
    }

    private async Task ReadNewAsync(CancellationToken ct)
    {
        if (_floor < 0)
        {
            var start = await db.ReadAsync(c => EventLog.LastSeqAsync(c, null), ct);
            lock (_lock)
            {
                (_floor, _tail) = (start, start);
            }
        }
        while (true)
        {
            var after = _tail;
            var rows = (await db.ReadAsync(c => EventLog.AllAfterAsync(c, null, after, Batch), ct)).ToList();
            if (rows.Count == 0)
            {
                return;
            }
            lock (_lock)
            {
                _events.AddRange(rows);
                _chars += rows.Sum(e => (long)(e.Data?.Length ?? 0));
                _tail = rows[^1].Seq;
                var dropped = 0;
                while (_events.Count - dropped > Capacity || (_chars > MaxChars && _events.Count - dropped > 1))
                {
                    _chars -= _events[dropped].Data?.Length ?? 0;
                    dropped++;
                }
                if (dropped > 0)
                {
                    _floor = _events[dropped - 1].Seq;
                    _events.RemoveRange(0, dropped);
                }
            }
            Updated.Fire();
            if (rows.Count < Batch)
            {
                return;
            }
        }
    }
}
