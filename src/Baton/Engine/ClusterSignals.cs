using System.Diagnostics;
using System.Globalization;
using System.Text;
using Baton.Storage;
using Npgsql;

namespace Baton.Engine;

/// <summary>
/// Carries the node's signals to the other nodes on the same PostgreSQL, and theirs to it, with LISTEN/NOTIFY: new jobs
/// (wake that many workers) and stops (the run or execution named was cancelled; the node that runs it kills its
/// process tree) on <see cref="Channel"/>, which every node hears, and new events (read the feed) on
/// <see cref="EventsChannel"/>, which only the nodes that serve event streams hear (ADR 54). Nothing on SQLite, where
/// one process is the only node.
/// </summary>
/// <remarks>
/// Batched, not one NOTIFY per transaction: a signal marks what is pending and the sender sends everything pending
/// in one <c>pg_notify</c>, at most one per <see cref="Coalesce"/> plus its round trip, however many commits happened
/// meanwhile. The first signal after a quiet spell goes at once: it is a wake-up another node is waiting for. One listening connection per node, as River does; when it is lost, the node reconnects and wakes its
/// own workers and feed once (a full look at the database), since notifications sent meanwhile are gone. Signals carry
/// no state: a lost one costs a wait until the workers' and the feed's slow polls, never a wrong result.
/// </remarks>
public sealed class ClusterSignals(Database db, EngineSignals signals, RunningExecutions running, BatonOptions options, ILogger<ClusterSignals> logger) : BackgroundService
{
    public const string Channel = "baton";

    /// <summary>
    /// New events, apart: every commit of events on any node sends one, and a worker node, which serves no streams
    /// (<see cref="Runs.EventFeed"/>), would only be woken by them, in the very moments its workers claim the jobs those
    /// commits queued.
    /// </summary>
    public const string EventsChannel = "baton_events";

    /// <summary>The least time between two NOTIFYs of a node: signals meanwhile share the next, about a thousand a second at most.</summary>
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(1);

    /// <summary>How long to wait before connecting again after the listener or sender lost its connection.</summary>
    private static readonly TimeSpan Reconnect = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _pending = new(0, 1);
    /// <summary>Jobs announced since the last NOTIFY; zero when only jobs for later were queued (the pacemakers look again), null when none.</summary>
    private int? _jobs;
    private bool _events;
    private readonly HashSet<string> _stops = new(StringComparer.Ordinal);

    /// <summary>This node's sending connection's backend: the notifications it sent come back to its listener too.</summary>
    private int _senderPid;

    /// <summary>Ends the payload of a NOTIFY this node sent from a write transaction (any backend): its listener skips it.</summary>
    private readonly string _ownMark = " o" + Guid.NewGuid().ToString("N");

    /// <summary>When this node last sent a NOTIFY, or let a transaction send one (<see cref="Stopwatch"/> ticks).</summary>
    private long _lastSent;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (db is not PostgresDatabase pg)
        {
            return;
        }
        signals.Jobs.Broadcast = jobs => Mark(() => _jobs = (_jobs ?? 0) + jobs);
        signals.Jobs.QuietAnnouncement = QuietAnnouncement;
        signals.Events.Broadcast = () => Mark(() => _events = true);
        running.StopElsewhere = id => Mark(() => _stops.Add(id));
        await Task.WhenAll(SendAsync(pg, stoppingToken), ListenAsync(pg, stoppingToken));
    }

    /// <summary>
    /// Inside a write transaction: tells every node, this one included, once it commits, that <paramref name="jobs"/>
    /// jobs are due (a NOTIFY is sent at the COMMIT, and not at all on a rollback). For the rare writes that queue jobs
    /// no engine signal announces (webhook deliveries, queued with their events): a NOTIFY of their own. Nothing on
    /// SQLite, where one process is the only node and hears of them from its event feed (<see cref="Webhooks.WebhookWaker"/>).
    /// </summary>
    public static Task AnnounceJobsAtCommitAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, int jobs) =>
        SqlDialect.Of(c).SingleWriter ? Task.CompletedTask : NotifyAtCommitAsync(c, tx, JobsPayload(jobs));

    /// <summary>A NOTIFY held back (ADR 42) until the transaction's COMMIT, with which PostgreSQL delivers it.</summary>
    private static Task NotifyAtCommitAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, string payload) =>
        c.DeferSelectAsync("SELECT pg_notify(@channel, @payload)", new { channel = Channel, payload }, tx);

    /// <summary><c>j&lt;count&gt;</c>: wake that many workers; <c>j0</c>, jobs were queued for later (the pacemakers look again).</summary>
    private static string JobsPayload(int jobs) => "j" + jobs.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Inside a write transaction that queues <paramref name="jobs"/> jobs somebody waits for (a create, a person's
    /// decision): when the node has sent no NOTIFY for <see cref="Coalesce"/> and has nothing pending, the NOTIFY rides
    /// with this transaction's COMMIT (held back, ADR 42), a round trip and a hand-off to the sender's thread sooner;
    /// otherwise the sender's next batch carries it, as before. The two share one clock, so a busy node still sends at
    /// most one NOTIFY per <see cref="Coalesce"/> or so. Returns whether it rides with the transaction: its caller then
    /// wakes only this node's workers after the commit (<see cref="JobSignal.WakeHere"/>). Nothing on SQLite.
    /// </summary>
    public static async Task<bool> AnnounceJobsIfQuietAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, JobSignal signal, int jobs)
    {
        if (SqlDialect.Of(c).SingleWriter || signal.QuietAnnouncement?.Invoke(jobs) is not { } payload)
        {
            return false;
        }
        await NotifyAtCommitAsync(c, tx, payload);
        return true;
    }

    private string? QuietAnnouncement(int jobs)
    {
        lock (_lock)
        {
            if (_jobs is not null || _events || _stops.Count > 0 || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSent)) < Coalesce)
            {
                return null;
            }
            Volatile.Write(ref _lastSent, Stopwatch.GetTimestamp());
        }
        return JobsPayload(jobs) + _ownMark;
    }

    private void Mark(Action change)
    {
        lock (_lock)
        {
            change();
        }
        if (_pending.CurrentCount == 0)
        {
            try
            {
                _pending.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another signal woke the sender first; it sends this one too.
            }
        }
    }

    private async Task SendAsync(PostgresDatabase pg, CancellationToken ct)
    {
        NpgsqlConnection? connection = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await _pending.WaitAsync(ct);
                var sinceLast = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSent));
                if (sinceLast < Coalesce)
                {
                    await Task.Delay(Coalesce - sinceLast, ct);
                }
                Volatile.Write(ref _lastSent, Stopwatch.GetTimestamp());
                var payload = TakePending();
                if (payload is null)
                {
                    continue;
                }
                try
                {
                    connection ??= await OpenAsync(pg, ct);
                    _senderPid = connection.ProcessID;
                    await using var notify = new NpgsqlCommand(payload switch
                    {
                        { Signals: null } => $"SELECT pg_notify('{EventsChannel}', '')",
                        { Events: false } => $"SELECT pg_notify('{Channel}', @signals)",
                        _ => $"SELECT pg_notify('{Channel}', @signals), pg_notify('{EventsChannel}', '')",
                    }, connection);
                    if (payload.Value.Signals is { } toAll)
                    {
                        notify.Parameters.AddWithValue("signals", toAll);
                    }
                    await notify.ExecuteNonQueryAsync(ct);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
                {
                    // The other nodes miss this signal and find the work at their next poll.
                    logger.LogWarning(ex, "Could not notify the other nodes; they will find the work when they next look");
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                    }
                    connection = null;
                    await Task.Delay(Reconnect, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// What is pending: for <see cref="Channel"/>, the jobs (<see cref="JobsPayload"/>) and <c>s&lt;id&gt;</c> per stop, space-separated
    /// (ids hold no spaces), or null; and whether there are new events (an empty NOTIFY on <see cref="EventsChannel"/>).
    /// PostgreSQL takes payloads under 8000 bytes; stops beyond that wait for the next one. Null when nothing is pending.
    /// </summary>
    private (string? Signals, bool Events)? TakePending()
    {
        var more = false;
        string? taken;
        bool events;
        lock (_lock)
        {
            var payload = new StringBuilder();
            if (_jobs is { } jobs)
            {
                payload.Append(JobsPayload(jobs)).Append(' ');
                _jobs = null;
            }
            (events, _events) = (_events, false);
            foreach (var id in _stops.ToList())
            {
                if (payload.Length + id.Length + 2 > 7900)
                {
                    more = true;
                    break;
                }
                payload.Append('s').Append(id).Append(' ');
                _stops.Remove(id);
            }
            taken = payload.Length == 0 ? null : payload.ToString(0, payload.Length - 1);
        }
        if (more)
        {
            Mark(() => { });
        }
        return taken is null && !events ? null : (taken, events);
    }

    private async Task ListenAsync(PostgresDatabase pg, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await OpenAsync(pg, ct);
                connection.Notification += (_, e) => Received(e);
                // A worker node serves no event streams (Runs.EventFeed): it does not hear of events at all.
                var channels = options.Role == BatonOptions.WorkerRole ? $"LISTEN {Channel}" : $"LISTEN {Channel}; LISTEN {EventsChannel}";
                await using (var listen = new NpgsqlCommand(channels, connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }
                // Whatever was announced while this node was not listening: look now.
                signals.Jobs.LookAgain();
                signals.Events.FireHere();
                while (!ct.IsCancellationRequested)
                {
                    await connection.WaitAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException)
            {
                logger.LogWarning(ex, "Lost the connection that listens to the other nodes; connecting again");
                try
                {
                    await Task.Delay(Reconnect, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Received(NpgsqlNotificationEventArgs e)
    {
        if (e.PID == _senderPid || e.Payload.EndsWith(_ownMark, StringComparison.Ordinal))
        {
            return;
        }
        if (e.Channel == EventsChannel)
        {
            signals.Events.FireHere();
            return;
        }
        foreach (var part in e.Payload.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part[0])
            {
                case 'j' when int.TryParse(part.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var jobs):
                    signals.Jobs.WakeHere(jobs);
                    break;
                case 'e':
                    // From a node of an earlier version, during a rolling upgrade (ADR 54): it sends events here.
                    signals.Events.FireHere();
                    break;
                case 's' when running.IsRunning(part[1..]):
                    _ = running.StopAsync(part[1..], TimeSpan.Zero);
                    break;
            }
        }
    }

    /// <summary>A connection outside the pool's reuse: LISTEN belongs to a session, and the sender keeps its own.</summary>
    private static async Task<NpgsqlConnection> OpenAsync(PostgresDatabase pg, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(pg.ConnectionString) { Pooling = false, KeepAlive = 5 }.ConnectionString);
        await connection.OpenAsync(ct);
        return connection;
    }
}
