using System.Diagnostics;
using EventLog = Baton.Runs.EventLog;
using System.Globalization;
using Baton.Storage;
using Dapper;
using Npgsql;

namespace Baton.Bench;

/// <summary>
/// What the commit-order lock of <see cref="EventLog.AppendManyAsync"/> costs on PostgreSQL (issue 11): transactions
/// per second of concurrent writers that each append 3 events, through EventLog (under the lock) and through the same
/// INSERT without the lock. Twice: transactions that only append, and transactions that first update a row of their
/// own and read 3 times, as a phase transition does before its events (the lock is taken only at the events).
/// Rounds alternate the two ways, so drift on a shared machine falls on both.
/// </summary>
internal static class EventLockBench
{
    public const string Usage = """
        usage: dotnet run -c Release --project bench/Baton.Bench -- --event-lock CONNECTION [--seconds N] [--clients N] [--rounds N]
          CONNECTION  an Npgsql connection string to a PostgreSQL server whose user may create databases; a
                      database of its own is created, migrated, and dropped at the end
          --seconds   length of one measurement (default 5); --clients concurrent writers (default 8);
          --rounds    measurements of each kind, alternating with and without the lock (default 3)
        """;

    private const int EventsPerTransaction = 3;

    /// <summary>
    /// How the events are written: without the lock; through EventLog (the lock and the INSERT in one round trip, the
    /// COMMIT in the next); and the lock, the INSERT and the COMMIT in one round trip, which PostgresDatabase.WriteAsync
    /// could do by writing the transaction's events itself (the lock is then held for no client round trip at all).
    /// </summary>
    private enum Way { NoLock, EventLog, LockAndCommitInOneTrip }

    private static string Label(Way way) => way switch
    {
        Way.NoLock => "no lock",
        Way.EventLog => "EventLog (lock)",
        _ => "lock + INSERT + COMMIT in one round trip",
    };

    private const long CommitOrderLock = EventLog.CommitOrderLock;

    /// <summary>EventLog's PostgreSQL INSERT, without the lock.</summary>
    private const string UnlockedInsert = """
        INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at)
        SELECT r, t, p, i, a, d::jsonb, c FROM unnest(@r, @t, @p, @i, @a, @d, @c) WITH ORDINALITY AS e(r, t, p, i, a, d, c, n)
        ORDER BY n
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var (connection, seconds, clients, rounds) = (args[1], 5, 8, 3);
        for (var i = 2; i + 1 < args.Length; i += 2)
        {
            var n = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            (seconds, clients, rounds) = args[i] switch
            {
                "--seconds" => (n, clients, rounds),
                "--clients" => (seconds, n, rounds),
                "--rounds" => (seconds, clients, n),
                _ => throw new ArgumentException($"unknown argument '{args[i]}'\n{Usage}"),
            };
        }

        var name = $"baton_event_lock_{Environment.ProcessId}";
        await using (var admin = new NpgsqlConnection(connection))
        {
            await admin.ExecuteAsync($"CREATE DATABASE {name}");
        }
        var target = new NpgsqlConnectionStringBuilder(connection) { Database = name, MaxPoolSize = clients + 4 }.ConnectionString;
        try
        {
            await using (var db = new PostgresDatabase(target))
            {
                await db.MigrateAsync(TimeProvider.System);
                await db.WriteAsync((c, tx) => c.ExecuteAsync(
                    "CREATE TABLE bench_rows(id integer PRIMARY KEY, n bigint NOT NULL); INSERT INTO bench_rows SELECT g, 0 FROM generate_series(0, 255) g",
                    transaction: tx));
                var settings = await db.ReadAsync(c => c.QuerySingleAsync<(string, string, string)>(
                    "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')"));
                Console.WriteLine($"PostgreSQL {settings.Item1}, fsync={settings.Item2}, synchronous_commit={settings.Item3}; " +
                    $"{clients} writers, {EventsPerTransaction} events a transaction, {seconds} s a measurement, {Environment.ProcessorCount} cores");
                Console.WriteLine("| transaction | events | tx/s each round | median tx/s | median ms a tx |");
                Console.WriteLine("|---|---|---|---|---|");
                foreach (var prelude in new[] { false, true })
                {
                    var results = Enum.GetValues<Way>().ToDictionary(w => w, _ => new List<(double PerSecond, double MeanMs)>());
                    // One short round each first, to warm the pool, the JIT and the server's caches.
                    foreach (var way in Enum.GetValues<Way>())
                    {
                        await MeasureAsync(db, target, clients, 1, prelude, way);
                    }
                    for (var round = 0; round < rounds; round++)
                    {
                        foreach (var way in Enum.GetValues<Way>())
                        {
                            results[way].Add(await MeasureAsync(db, target, clients, seconds, prelude, way));
                        }
                    }
                    foreach (var way in Enum.GetValues<Way>())
                    {
                        var r = results[way];
                        Console.WriteLine(
                            $"| {(prelude ? "UPDATE + 3 SELECT, then" : "only")} 3 events | {Label(way)} | " +
                            $"{string.Join(", ", r.Select(x => x.PerSecond.ToString("F0", CultureInfo.InvariantCulture)))} | " +
                            $"{Median.Of(r.Select(x => x.PerSecond)).ToString("F0", CultureInfo.InvariantCulture)} | " +
                            $"{Median.Of(r.Select(x => x.MeanMs)).ToString("F2", CultureInfo.InvariantCulture)} |");
                    }
                }
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(connection);
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }
        return 0;
    }

    private static async Task<(double PerSecond, double MeanMs)> MeasureAsync(PostgresDatabase db, string target, int clients, int seconds, bool prelude, Way way)
    {
        await using var raw = NpgsqlDataSource.Create(target);
        var stop = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, clients).Select(w => Task.Run(async () =>
        {
            var owner = $"bench_{w}";
            var events = Enumerable.Range(0, EventsPerTransaction)
                .Select(i => new EventLog.NewEvent(owner, "bench.appended", "build", 1, null, $$"""{"n":{{i}}}""", 0))
                .ToList();
            var done = 0;
            while (Stopwatch.GetTimestamp() < stop)
            {
                if (way == Way.LockAndCommitInOneTrip)
                {
                    await using var c = await raw.OpenConnectionAsync();
                    await c.ExecuteAsync(prelude ? "BEGIN; UPDATE bench_rows SET n = n + 1 WHERE id = @w" : "BEGIN TRANSACTION", new { w });
                    for (var i = 0; prelude && i < 3; i++)
                    {
                        await c.ExecuteScalarAsync<long>("SELECT n FROM bench_rows WHERE id = @w", new { w });
                    }
                    await c.ExecuteAsync("SELECT pg_advisory_xact_lock(@CommitOrderLock);\n" + UnlockedInsert + ";\nCOMMIT", EventLog.UnnestParameters(events));
                    done++;
                    continue;
                }
                await db.WriteAsync(async (c, tx) =>
                {
                    if (prelude)
                    {
                        await c.ExecuteAsync("UPDATE bench_rows SET n = n + 1 WHERE id = @w", new { w }, tx);
                        for (var i = 0; i < 3; i++)
                        {
                            await c.ExecuteScalarAsync<long>("SELECT n FROM bench_rows WHERE id = @w", new { w }, tx);
                        }
                    }
                    if (way == Way.EventLog)
                    {
                        await EventLog.AppendManyAsync(c, tx, events);
                    }
                    else
                    {
                        await c.ExecuteAsync(UnlockedInsert, EventLog.UnnestParameters(events), tx);
                    }
                });
                done++;
            }
            return done;
        })));
        var elapsed = clock.Elapsed.TotalSeconds;
        var total = counts.Sum();
        return (total / elapsed, elapsed * 1000 * clients / total);
    }
}
