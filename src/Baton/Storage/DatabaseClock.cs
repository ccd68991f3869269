using Dapper;

namespace Baton.Storage;

/// <summary>
/// The node's clock set to the database's: <paramref name="local"/> plus the offset last measured to the database's
/// <c>clock_timestamp()</c>. Lease expiries and due times are compared by every node sharing one PostgreSQL, so
/// they must come from one clock: a node whose own clock ran 20 s fast would see every other node's 30 s lease as
/// nearly over. Statements keep their <c>@now</c> parameters (tests move an injected clock); in production on
/// PostgreSQL those come from here. Timers and elapsed times stay the local clock's: an interval needs no correction.
/// </summary>
public sealed class DatabaseClock(TimeProvider local) : TimeProvider
{
    /// <summary>Readings taken per measurement; the one with the shortest round trip is kept, as NTP does.</summary>
    private const int Samples = 3;

    private long _offsetTicks;

    /// <summary>The database's clock minus the local clock, as last measured (zero before the first measurement).</summary>
    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => local.GetUtcNow() + Offset;

    public override long GetTimestamp() => local.GetTimestamp();

    public override long TimestampFrequency => local.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => local.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        local.CreateTimer(callback, state, dueTime, period);

    /// <summary>
    /// Reads the database's clock a few times on one connection and takes the offset from the reading with the
    /// shortest round trip; from now on this clock tells the database's time. Returns the offset and that round trip.
    /// </summary>
    public async Task<(TimeSpan Offset, TimeSpan RoundTrip)> MeasureAsync(Database db, CancellationToken ct)
    {
        var best = await db.ReadAsync(async c =>
        {
            var sql = SqlDialect.Of(c).SingleWriter
                // SQLite's clock is this machine's; read the same way so the measurement works on either database.
                ? "SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
                : "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
            (TimeSpan Offset, TimeSpan RoundTrip)? kept = null;
            for (var i = 0; i < Samples; i++)
            {
                var sent = local.GetUtcNow();
                var micros = await c.ExecuteScalarAsync<long>(new CommandDefinition(sql, cancellationToken: ct));
                var received = local.GetUtcNow();
                var reading = (OffsetFrom(sent, DateTimeOffset.UnixEpoch.AddTicks(micros * 10), received), received - sent);
                if (kept is null || reading.Item2 < kept.Value.RoundTrip)
                {
                    kept = reading;
                }
            }
            return kept!.Value;
        }, ct);
        Interlocked.Exchange(ref _offsetTicks, best.Offset.Ticks);
        return best;
    }

    /// <summary>
    /// The offset from one reading: the database read its clock, on average, halfway between sending the query and
    /// receiving the answer (the usual correction; an asymmetric path errs by at most half the round trip).
    /// </summary>
    public static TimeSpan OffsetFrom(DateTimeOffset sent, DateTimeOffset databaseNow, DateTimeOffset received) =>
        databaseNow - (sent + (received - sent) / 2);
}

/// <summary>
/// Measures <see cref="DatabaseClock"/>'s offset before the engine starts and again each minute (clocks drift, and
/// NTP may step either clock). Does nothing when the node's clock is another one (SQLite, or a test's).
/// </summary>
public sealed class DatabaseClockService(TimeProvider time, Database db, ILogger<DatabaseClockService> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromMinutes(1);

    /// <summary>An offset beyond this is worth an operator's look: the node's clock is not kept in time.</summary>
    private static readonly TimeSpan Noteworthy = TimeSpan.FromSeconds(1);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (time is DatabaseClock clock)
        {
            await MeasureAsync(clock, cancellationToken);
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (time is not DatabaseClock clock)
        {
            return;
        }
        using var every = new PeriodicTimer(Every, TimeProvider.System);
        try
        {
            while (await every.WaitForNextTickAsync(stoppingToken))
            {
                await MeasureAsync(clock, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task MeasureAsync(DatabaseClock clock, CancellationToken ct)
    {
        try
        {
            var (offset, roundTrip) = await clock.MeasureAsync(db, ct);
            if (offset.Duration() > Noteworthy)
            {
                logger.LogWarning("This node's clock is {Offset} ms off the database's (round trip {RoundTrip} ms); lease and due times follow the database's",
                    (long)offset.TotalMilliseconds, (long)roundTrip.TotalMilliseconds);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException && db.Dialect.IsDatabaseError(ex))
        {
            // The last offset stays: the database being away for a while does not make the clocks drift apart.
            logger.LogWarning(ex, "Could not read the database's clock; keeping the offset of {Offset} ms", (long)clock.Offset.TotalMilliseconds);
        }
    }
}
