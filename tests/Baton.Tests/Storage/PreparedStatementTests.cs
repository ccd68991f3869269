using Baton.Storage;
using Baton.Tests.Support;
using Dapper;
using Npgsql;

namespace Baton.Tests.Storage;

/// <summary>
/// On PostgreSQL, Baton prepares the statements it uses often (<see cref="PostgresDatabase.WithPoolDefaults"/>). A
/// prepared statement whose result type a newer node's migration changed fails once with "cached plan must not change
/// result type"; reads and writes must run it again, prepared anew, instead of failing the request.
/// </summary>
[Trait("Database", "postgres")]
public sealed class PreparedStatementTests : IDisposable
{
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("baton-prepared-");
    private readonly string _connectionString;

    public PreparedStatementTests()
    {
        _connectionString = TestDatabase.SettingFor(_dataDir.FullName)
            ?? throw new InvalidOperationException("prepared statements are PostgreSQL's: run ./test, or set BATON_TEST_POSTGRES");
    }

    [Fact]
    public void Pool_defaults_apply_only_where_the_connection_string_is_silent()
    {
        var defaults = new NpgsqlConnectionStringBuilder(PostgresDatabase.WithPoolDefaults("Host=db;Username=baton"));
        Assert.Equal(100, defaults.MaxAutoPrepare);
        Assert.True(defaults.NoResetOnClose);
        Assert.Equal(Math.Max(4, 2 * Environment.ProcessorCount), defaults.MaxPoolSize);

        var given = new NpgsqlConnectionStringBuilder(PostgresDatabase.WithPoolDefaults("Host=db;max auto prepare=0;No Reset On Close=false;Maximum Pool Size=50"));
        Assert.Equal(0, given.MaxAutoPrepare);
        Assert.False(given.NoResetOnClose);
        Assert.Equal(50, given.MaxPoolSize);
        Assert.Equal(7, new NpgsqlConnectionStringBuilder(PostgresDatabase.WithPoolDefaults("Host=db;MaxPoolSize=7")).MaxPoolSize);
    }

    [Fact]
    public async Task A_statement_prepared_before_a_migration_changed_its_result_type_runs_again()
    {
        await using var db = new PostgresDatabase(_connectionString);
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            "CREATE TABLE stale_plan (id int PRIMARY KEY, v int NOT NULL); INSERT INTO stale_plan VALUES (1, 0)", transaction: tx));
        const string Read = "SELECT v FROM stale_plan WHERE id = @id";
        const string Write = "UPDATE stale_plan SET v = v + 1 WHERE id = @id RETURNING v";
        for (var i = 0; i < 10; i++)
        {
            // Two connections at once, so the pool holds two that prepared the read: a retry must not meet the other.
            await db.ReadAsync(async first =>
            {
                await first.QuerySingleAsync<long>(Read, new { id = 1 });
                return await db.ReadAsync(second => second.QuerySingleAsync<long>(Read, new { id = 1 }));
            });
            await db.WriteAsync((c, tx) => c.QuerySingleAsync<long>(Write, new { id = 1 }, tx));
        }
        // Prepared (the read at least: the write may have had the other connection).
        var prepared = await db.ReadAsync(c => c.QuerySingleAsync<long>(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%stale_plan%'"));
        Assert.InRange(prepared, 1, 2);

        // Another node's migration, on a connection of its own.
        await using (var other = new NpgsqlConnection(_connectionString))
        {
            await other.ExecuteAsync("ALTER TABLE stale_plan ALTER COLUMN v TYPE bigint");
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(10, await db.ReadAsync(c => c.QuerySingleAsync<long>(Read, new { id = 1 })));
        }
        Assert.Equal(11, await db.WriteAsync((c, tx) => c.QuerySingleAsync<long>(Write, new { id = 1 }, tx)));
    }

    public void Dispose()
    {
        TestDatabase.Drop(_dataDir.FullName);
        _dataDir.Delete(recursive: true);
    }
}
