using Baton.Storage;
using Baton.Tests.Support;
using Dapper;
using Npgsql;

namespace Baton.Tests.Storage;

/// <summary>
/// PostgreSQL's writes of a node, several to a transaction (ADR 48): writes queued while the lanes are busy share a
/// COMMIT, and each caller still gets the outcome its write has on its own. Runs where the test run uses PostgreSQL
/// (BATON_TEST_POSTGRES, as in CI); SQLite's writer is <see cref="GroupCommitTests"/>'.
/// </summary>
public sealed class PostgresGroupCommitTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-pg-writer-").FullName;
    private PostgresDatabase? _db;

    public async Task InitializeAsync()
    {
        if (TestDatabase.Open(_dataDir) is not PostgresDatabase db)
        {
            return;
        }
        _db = db;
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            """
            CREATE TABLE parents (id bigint PRIMARY KEY);
            CREATE TABLE items (id bigint PRIMARY KEY, parent bigint REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);
            """, transaction: tx));
    }

    [Fact]
    public async Task Writes_queued_together_share_a_commit_and_one_that_throws_runs_alone()
    {
        if (_db is not { } db)
        {
            return;
        }
        var (held, release) = await HoldTheLanesAsync(db);
        var commitsBefore = db.Commits;

        var second = Insert(db, 2);
        var runs = 0;
        var failing = db.WriteAsync(async (c, tx) =>
        {
            runs++;
            await c.ExecuteAsync("INSERT INTO items(id) VALUES (3)", transaction: tx);
            throw new InvalidOperationException("this write changed its mind");
        });
        var fourth = Insert(db, 4);
        release.SetResult();
        await held;
        await second;
        await fourth;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.Equal("this write changed its mind", error.Message);
        // In the batch, then alone for its own outcome.
        Assert.Equal(2, runs);
        Assert.Equal(new long[] { 2, 4, 100, 101 }, await CommittedItemsAsync(db));
        // The two held writes, then the batch of the two others (the failing one alone commits nothing).
        Assert.Equal(commitsBefore + 3, db.Commits);
        Assert.True(db.Writes > db.Commits);
    }

    [Fact]
    public async Task A_statement_the_database_refuses_fails_its_own_write_only()
    {
        if (_db is not { } db)
        {
            return;
        }
        await Insert(db, 7);
        var (held, release) = await HoldTheLanesAsync(db);

        var before = Insert(db, 6);
        var duplicate = db.WriteAsync(async (c, tx) =>
        {
            // Held back (ADR 42): the database refuses it only with the next write's round trip, or the COMMIT.
            await c.DeferAsync("INSERT INTO items(id) VALUES (7)", null, tx);
        });
        var after = Insert(db, 8);
        release.SetResult();
        await held;
        await before;
        await after;

        var refused = await Assert.ThrowsAsync<PostgresException>(() => duplicate);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        Assert.Equal(new long[] { 6, 7, 8, 100, 101 }, await CommittedItemsAsync(db));
    }

    [Fact]
    public async Task A_commit_the_database_refuses_fails_only_the_write_that_broke_it()
    {
        if (_db is not { } db)
        {
            return;
        }
        var (held, release) = await HoldTheLanesAsync(db);

        var fine = Insert(db, 10);
        // A deferred foreign key is checked at the COMMIT: the statement succeeds and the batch's COMMIT fails.
        var orphan = db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id, parent) VALUES (11, 99)", transaction: tx));
        release.SetResult();
        await held;

        await fine;
        var refused = await Assert.ThrowsAsync<PostgresException>(() => orphan);
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, refused.SqlState);
        Assert.Equal(new long[] { 10, 100, 101 }, await CommittedItemsAsync(db));
    }

    [Fact]
    public async Task A_write_whose_caller_gave_up_before_it_began_does_not_run()
    {
        if (_db is not { } db)
        {
            return;
        }
        var (held, release) = await HoldTheLanesAsync(db);

        using var giveUp = new CancellationTokenSource();
        var abandoned = db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (20)", transaction: tx), giveUp.Token);
        await giveUp.CancelAsync();
        release.SetResult();
        await held;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.Equal(new long[] { 100, 101 }, await CommittedItemsAsync(db));
    }

    private static Task Insert(Database db, long id) =>
        db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (@id)", new { id }, tx));

    /// <summary>
    /// A write on each lane that keeps it busy until released (inserting items 100 and 101 then): writes queued
    /// meanwhile form the next batch.
    /// </summary>
    private static async Task<(Task Held, TaskCompletionSource Release)> HoldTheLanesAsync(PostgresDatabase db)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holds = new List<Task>();
        for (var lane = 0; lane < PostgresDatabase.WriteLanes; lane++)
        {
            var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var id = 100 + lane;
            holds.Add(db.WriteAsync(async (c, tx) =>
            {
                holding.SetResult();
                await release.Task;
                await c.ExecuteAsync("INSERT INTO items(id) VALUES (@id)", new { id }, tx);
            }));
            await holding.Task;
        }
        return (Task.WhenAll(holds), release);
    }

    /// <summary>Read through a connection of its own: only what was committed.</summary>
    private static async Task<long[]> CommittedItemsAsync(Database db) =>
        (await db.ReadAsync(async c => await c.QueryAsync<long>("SELECT id FROM items ORDER BY id"))).ToArray();

    public async Task DisposeAsync()
    {
        if (_db is not null)
        {
            await _db.DisposeAsync();
        }
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}
