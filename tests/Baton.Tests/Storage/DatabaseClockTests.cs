using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Storage;

/// <summary>On PostgreSQL a node's lease and due times come from the database's clock, not its own.</summary>
public sealed class DatabaseClockTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-clock-").FullName;

    [Fact]
    public void The_database_read_its_clock_halfway_through_the_round_trip()
    {
        var sent = new DateTimeOffset(2026, 12, 6, 3, 0, 0, TimeSpan.Zero);
        var received = sent.AddMilliseconds(100);
        // The database's clock is 3 s ahead; it read it 50 ms after the query left.
        Assert.Equal(TimeSpan.FromSeconds(3), DatabaseClock.OffsetFrom(sent, sent.AddMilliseconds(50).AddSeconds(3), received));
        Assert.Equal(TimeSpan.FromSeconds(-3), DatabaseClock.OffsetFrom(sent, sent.AddMilliseconds(50).AddSeconds(-3), received));
    }

    [Fact]
    public async Task A_node_whose_clock_is_years_off_tells_the_databases_time_once_measured()
    {
        // The node's own clock: wrong by decades, and moving only when told.
        var local = new FakeTimeProvider(new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var clock = new DatabaseClock(local);
        Assert.Equal(local.GetUtcNow(), clock.GetUtcNow());

        await using var db = TestDatabase.Open(_dataDir);
        var (offset, _) = await clock.MeasureAsync(db, CancellationToken.None);
        var databaseNow = DateTimeOffset.UnixEpoch.AddTicks(10 * await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
            TestDatabase.IsPostgres
                ? "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
                : "SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)")));
        Assert.True((clock.GetUtcNow() - databaseNow).Duration() < TimeSpan.FromSeconds(2),
            $"corrected clock {clock.GetUtcNow():O}, database {databaseNow:O}, offset {offset}");
        Assert.True(offset > TimeSpan.FromDays(365 * 25));

        // Between measurements the corrected clock moves with the node's own.
        var before = clock.GetUtcNow();
        local.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(before + TimeSpan.FromMinutes(1), clock.GetUtcNow());
    }

    [Fact]
    public void A_server_on_PostgreSQL_uses_the_database_clock_and_a_tests_clock_replaces_it()
    {
        using (var server = new BatonFactory())
        {
            var time = server.Service<TimeProvider>();
            if (TestDatabase.IsPostgres)
            {
                Assert.Same(server.Service<DatabaseClock>(), time);
            }
            else
            {
                Assert.Same(TimeProvider.System, time);
            }
        }
        var manual = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(50));
        using (var server = new BatonFactory(manual))
        {
            Assert.Same(manual, server.Service<TimeProvider>());
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}
