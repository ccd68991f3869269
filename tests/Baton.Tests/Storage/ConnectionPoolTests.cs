using System.Net;
using Baton.Tests.Support;
using Dapper;
using Npgsql;

namespace Baton.Tests.Storage;

/// <summary>
/// On PostgreSQL a node's pool is small (ADR 47): requests beyond it wait in the node for a connection. One that waits
/// longer than the pool's timeout is told to try again (503 with Retry-After), not given a 500, and the request that
/// held the connection still finishes.
/// </summary>
[Trait("Database", "postgres")]
public sealed class ConnectionPoolTests
{
    [Fact]
    public async Task A_request_that_finds_every_pooled_connection_busy_past_the_timeout_gets_503_and_the_busy_one_finishes()
    {
        using var factory = new BatonFactory();
        var database = TestDatabase.SettingFor(factory.DataDir)
            ?? throw new InvalidOperationException("the pool is PostgreSQL's: run ./test, or set BATON_TEST_POSTGRES");
        factory.Settings["BATON_DATABASE"] = database + ";Maximum Pool Size=1;Timeout=1";
        var http = factory.Http();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/runs")).StatusCode);

        // Every request's key check reads api_keys: with the table locked, the first request holds the pool's one
        // connection, waiting, and the next finds none.
        await using var blocker = new NpgsqlConnection(database);
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        await blocker.ExecuteAsync("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE", transaction: tx);
        var held = http.GetAsync("/api/runs");
        await WaitForALockWaitAsync(database);

        var refused = await http.GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Contains("the database is unavailable", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await tx.RollbackAsync();
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/runs")).StatusCode);
    }

    /// <summary>Until a backend of the server's database waits for a lock: the held request has the pool's connection.</summary>
    private static async Task WaitForALockWaitAsync(string database)
    {
        await using var look = new NpgsqlConnection(database);
        await look.OpenAsync();
        for (var tries = 0; tries < 1000; tries++)
        {
            if (await look.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0)
            {
                return;
            }
            await Task.Delay(10);
        }
        throw new TimeoutException("no request came to wait for the lock on api_keys");
    }
}
