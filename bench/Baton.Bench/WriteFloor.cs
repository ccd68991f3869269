using System.Diagnostics;
using Baton.Engine;
using Baton.Storage;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Bench;

internal sealed record FloorResult(string What, Distribution Time);

/// <summary>
/// What the storage layer costs per call, through the real <see cref="Database"/> and <see cref="JobQueue"/> on a
/// fresh file: the bricks a phase transition is built from, to read the transition numbers against.
/// </summary>
internal static class WriteFloor
{
    private const int Samples = 500;

    public static async Task<IReadOnlyList<FloorResult>> MeasureAsync(string root)
    {
        var dataDir = BenchServer.NewDataDir(root);
        try
        {
            var db = new SqliteDatabase(Path.Combine(dataDir, "baton.db"));
            await db.MigrateAsync(TimeProvider.System);
            var queue = new JobQueue(db, new Ops.BatonMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), db, TimeProvider.System), TimeProvider.System, new NodeIdentity("bench"));
            var now = DateTimeOffset.UtcNow.ToMs();
            return
            [
                new("Database.OpenAsync from the pool (runs the 3 per-connection PRAGMAs)", await TimeAsync(async () =>
                {
                    await using var c = await db.OpenAsync();
                })),
                new("one small statement through Dapper on an open connection (prepare, run, finalize)", await TimeOpenAsync(db, c =>
                    c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE id = @id", new { id = 1 }))),
                new("Database.WriteAsync with nothing to write (BEGIN IMMEDIATE + COMMIT, no fsync)", await TimeAsync(() =>
                    db.WriteAsync((_, _) => Task.CompletedTask))),
                new("JobQueue.ClaimAsync on an empty queue (what every woken idle worker does)", await TimeAsync(() => db.WriteAsync((c, tx) => queue.ClaimAsync(c, tx)))),
                new("Database.WriteAsync with one INSERT (a durable commit: WAL append + fdatasync)", await TimeAsync(() =>
                    db.WriteAsync((c, tx) => c.ExecuteAsync(
                        "INSERT INTO events(run_id, type, created_at) VALUES ('run_floor', 'bench.floor', @now)", new { now }, tx)))),
            ];
        }
        finally
        {
            BenchServer.DeleteDataDir(dataDir);
        }
    }

    private static async Task<Distribution> TimeAsync(Func<Task> action)
    {
        for (var i = 0; i < 50; i++)
        {
            await action();
        }
        var samples = new List<double>(Samples);
        for (var i = 0; i < Samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await action();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return Distribution.Of(samples);
    }

    private static async Task<Distribution> TimeOpenAsync(SqliteDatabase db, Func<Microsoft.Data.Sqlite.SqliteConnection, Task> action)
    {
        await using var c = await db.OpenAsync();
        return await TimeAsync(() => action(c));
    }
}
