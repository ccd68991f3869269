using System.Data.Common;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;
using Xunit.Abstractions;

namespace Baton.Tests.Storage;

/// <summary>
/// Held-back writes (ADR 42) behave as if each had run at once, on whichever database the test run uses (SQLite, or
/// PostgreSQL with BATON_TEST_POSTGRES): seen by the transaction's later reads, failing the whole write when one
/// fails, sent before the COMMIT, dropped with a rollback. On PostgreSQL they also save round trips, which is counted.
/// </summary>
public sealed class DeferredWritesTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-deferred-").FullName;

    private const string InsertBlob = "INSERT INTO blobs(sha256, size, content) VALUES (@sha, 1, @content)";

    private static object Blob(string sha) => new { sha, content = new byte[] { 1 } };

    private static Task<long> BlobsAsync(DbConnection c, string prefix) =>
        c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs WHERE sha256 LIKE @like", new { like = prefix + "%" });

    private async Task<Database> OpenAsync()
    {
        var db = TestDatabase.Open(_dataDir);
        await db.MigrateAsync(TimeProvider.System);
        return db;
    }

    [Fact]
    public async Task A_held_back_write_is_seen_by_a_later_read_of_the_same_transaction_and_commits()
    {
        await using var db = await OpenAsync();
        var seen = await db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("seen-1"), tx);
            await c.DeferAsync(InsertBlob, Blob("seen-2"), tx);
            // A scalar, a query and a non-query each flush what is held back before them.
            var counted = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs WHERE sha256 LIKE 'seen-%'", transaction: tx);
            await c.DeferAsync(InsertBlob, Blob("seen-3"), tx);
            var listed = (await c.QueryAsync<string>("SELECT sha256 FROM blobs WHERE sha256 LIKE 'seen-%' ORDER BY sha256", transaction: tx)).ToList();
            await c.DeferAsync(InsertBlob, Blob("seen-4"), tx);
            var deleted = await c.ExecuteAsync("DELETE FROM blobs WHERE sha256 = 'seen-4'", transaction: tx);
            // The last one is held back until the COMMIT.
            await c.DeferAsync(InsertBlob, Blob("seen-5"), tx);
            return (counted, listed, deleted);
        });
        Assert.Equal(2, seen.counted);
        Assert.Equal(["seen-1", "seen-2", "seen-3"], seen.listed);
        Assert.Equal(1, seen.deleted);
        Assert.Equal(4, await db.ReadAsync(c => BlobsAsync(c, "seen-")));
    }

    [Fact]
    public async Task A_held_back_lock_does_not_take_the_place_of_the_result_that_follows_it()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync((c, tx) => c.ExecuteAsync(InsertBlob, Blob("lock-1"), tx));
        var read = await db.WriteAsync(async (c, tx) =>
        {
            var forUpdate = SqlDialect.Of(c).ForUpdate;
            await c.DeferSelectAsync($"SELECT sha256 FROM blobs WHERE sha256 = 'lock-1'{forUpdate}", null, tx);
            var size = await c.ExecuteScalarAsync<long>("SELECT size + 41 FROM blobs WHERE sha256 = 'lock-1'", transaction: tx);
            await c.DeferSelectAsync($"SELECT sha256 FROM blobs WHERE sha256 = 'lock-1'{forUpdate}", null, tx);
            await c.DeferAsync(InsertBlob, Blob("lock-2"), tx);
            await c.DeferSelectAsync($"SELECT sha256, size FROM blobs{forUpdate}", null, tx);
            var rows = (await c.QueryAsync<(string Sha256, long Size)>("SELECT sha256, size FROM blobs WHERE sha256 LIKE 'lock-%' ORDER BY sha256", transaction: tx)).ToList();
            return (size, rows);
        });
        Assert.Equal(42, read.size);
        Assert.Equal([("lock-1", 1L), ("lock-2", 1L)], read.rows);
    }

    [Fact]
    public async Task A_held_back_write_that_fails_fails_the_whole_write_and_nothing_of_it_stays()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync((c, tx) => c.ExecuteAsync(InsertBlob, Blob("dup-0"), tx));
        var wentOn = false;
        await Assert.ThrowsAnyAsync<DbException>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("dup-1"), tx);
            // The primary key refuses it: at once on SQLite, at the next round trip on PostgreSQL.
            await c.DeferAsync(InsertBlob, Blob("dup-0"), tx);
            await c.DeferAsync(InsertBlob, Blob("dup-2"), tx);
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
            wentOn = true;
        }));
        Assert.False(wentOn);
        Assert.Equal(1, await db.ReadAsync(c => BlobsAsync(c, "dup-")));

        // Held back to the end: the failure comes before the COMMIT, and the write fails all the same.
        await Assert.ThrowsAnyAsync<DbException>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("dup-3"), tx);
            await c.DeferAsync(InsertBlob, Blob("dup-0"), tx);
        }));
        Assert.Equal(1, await db.ReadAsync(c => BlobsAsync(c, "dup-")));
    }

    [Fact]
    public async Task A_write_that_throws_after_holding_back_statements_leaves_nothing()
    {
        await using var db = await OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("thrown-1"), tx);
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
            await c.DeferAsync(InsertBlob, Blob("thrown-2"), tx);
            throw new InvalidOperationException("changed its mind");
        }));
        Assert.Equal(0, await db.ReadAsync(c => BlobsAsync(c, "thrown-")));
    }

    [Fact]
    public async Task A_rollback_to_a_savepoint_drops_only_what_was_written_after_it()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(async (c, tx) =>
        {
            var savepoint = (DbTransaction)tx;
            // The savepoint still held back when rolled back to.
            await c.DeferAsync(InsertBlob, Blob("sp-kept-1"), tx);
            await savepoint.SaveAsync("first");
            await c.DeferAsync(InsertBlob, Blob("sp-dropped-1"), tx);
            await savepoint.RollbackAsync("first");
            await savepoint.ReleaseAsync("first");
            // The savepoint sent (a read flushed it) before the rollback to it.
            await savepoint.SaveAsync("second");
            await c.DeferAsync(InsertBlob, Blob("sp-dropped-2"), tx);
            Assert.Equal(2, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs WHERE sha256 LIKE 'sp-%'", transaction: tx));
            await c.DeferAsync(InsertBlob, Blob("sp-dropped-3"), tx);
            await savepoint.RollbackAsync("second");
            await savepoint.ReleaseAsync("second");
            // A failure after a savepoint, rolled back to it: the transaction goes on.
            await savepoint.SaveAsync("third");
            await Assert.ThrowsAnyAsync<DbException>(async () =>
            {
                await c.DeferAsync(InsertBlob, Blob("sp-kept-1"), tx);
                await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
            });
            await savepoint.RollbackAsync("third");
            await savepoint.ReleaseAsync("third");
            // A held-back write that fails fails by the release of the savepoint it follows, in time to roll back to it.
            await savepoint.SaveAsync("fourth");
            await Assert.ThrowsAnyAsync<DbException>(async () =>
            {
                await c.DeferAsync(InsertBlob, Blob("sp-kept-1"), tx);
                await savepoint.ReleaseAsync("fourth");
            });
            await savepoint.RollbackAsync("fourth");
            await savepoint.ReleaseAsync("fourth");
            await c.DeferAsync(InsertBlob, Blob("sp-kept-2"), tx);
        });
        var kept = await db.ReadAsync(async c => (await c.QueryAsync<string>("SELECT sha256 FROM blobs WHERE sha256 LIKE 'sp-%' ORDER BY sha256")).ToList());
        Assert.Equal(["sp-kept-1", "sp-kept-2"], kept);
    }

    private sealed class CheckFailed(string what) : Exception(what);

    private const string TouchBlob = "UPDATE blobs SET size = size + 1 WHERE sha256 = @sha";

    private static Task DeferTouchAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, string sha, string what) =>
        c.DeferCheckedAsync(TouchBlob, new { sha }, tx, expectedRows: 1, () => new CheckFailed(what));

    [Fact]
    public async Task A_checked_write_that_changed_other_rows_ends_the_write_by_the_next_answer_and_nothing_stays()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync((c, tx) => c.ExecuteAsync(InsertBlob, Blob("check-0"), tx));

        // A check that holds: the write goes on and commits what it held back.
        var size = await db.WriteAsync(async (c, tx) =>
        {
            await DeferTouchAsync(c, tx, "check-0", "held");
            await c.DeferAsync(InsertBlob, Blob("check-1"), tx);
            return await c.ExecuteScalarAsync<long>("SELECT size FROM blobs WHERE sha256 = 'check-0'", transaction: tx);
        });
        Assert.Equal(2, size);

        // A check that fails: its exception comes from the next statement that needs an answer (at once on SQLite),
        // and what was written before and after it goes.
        var answered = false;
        var failed = await Assert.ThrowsAsync<CheckFailed>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("check-2"), tx);
            await DeferTouchAsync(c, tx, "no-such-blob", "fence");
            await c.DeferAsync(InsertBlob, Blob("check-3"), tx);
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
            answered = true;
        }));
        Assert.Equal("fence", failed.Message);
        Assert.False(answered);
        Assert.Equal(["check-0", "check-1"], await ShasAsync(db, "check-"));
    }

    [Fact]
    public async Task A_failed_check_ends_the_write_before_its_COMMIT_and_before_a_savepoint()
    {
        await using var db = await OpenAsync();
        // Held back to the end: it is checked before the COMMIT is sent, so nothing commits.
        await Assert.ThrowsAsync<CheckFailed>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("end-1"), tx);
            await DeferTouchAsync(c, tx, "no-such-blob", "at the end");
            await c.DeferAsync(InsertBlob, Blob("end-2"), tx);
        }));
        Assert.Empty(await ShasAsync(db, "end-"));

        // A savepoint set after a failed check: the check's exception comes first, so no code that set the savepoint
        // can roll back to it and go on as if only what followed it had failed.
        var savepointSet = false;
        await Assert.ThrowsAsync<CheckFailed>(() => db.WriteAsync(async (c, tx) =>
        {
            await DeferTouchAsync(c, tx, "no-such-blob", "before the savepoint");
            await ((DbTransaction)tx).SaveAsync("after_check");
            savepointSet = true;
        }));
        Assert.False(savepointSet);
    }

    [Fact]
    public async Task A_statement_refused_after_a_failed_check_ends_the_write_with_the_checks_exception()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync((c, tx) => c.ExecuteAsync(InsertBlob, Blob("why-0"), tx));
        // A lost lease is why the finish failed, not the duplicate that another worker's finish had written meanwhile.
        await Assert.ThrowsAsync<CheckFailed>(() => db.WriteAsync(async (c, tx) =>
        {
            await DeferTouchAsync(c, tx, "no-such-blob", "lease lost");
            await c.DeferAsync(InsertBlob, Blob("why-0"), tx);
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
        }));
        // A statement refused before the check ran keeps its own error.
        await Assert.ThrowsAnyAsync<DbException>(() => db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("why-0"), tx);
            await DeferTouchAsync(c, tx, "no-such-blob", "never reached");
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
        }));
        Assert.Equal(["why-0"], await ShasAsync(db, "why-"));
    }

    private static Task<List<string>> ShasAsync(Database db, string prefix) =>
        db.ReadAsync(async c => (await c.QueryAsync<string>("SELECT sha256 FROM blobs WHERE sha256 LIKE @like ORDER BY sha256", new { like = prefix + "%" })).ToList());

    [Fact]
    public async Task On_PostgreSQL_held_back_writes_ride_with_the_next_round_trip()
    {
        await using var db = await OpenAsync();
        if (db is not PostgresDatabase pg)
        {
            return; // SQLite has no round trips to save: each statement runs in-process.
        }
        var costs = new List<DeferredWrites.Cost>();
        pg.WriteCommitted = cost => costs.Add(cost);
        await db.WriteAsync(async (c, tx) =>
        {
            await c.DeferAsync(InsertBlob, Blob("trip-1"), tx);
            await c.DeferAsync(InsertBlob, Blob("trip-2"), tx);
            await c.DeferAsync(InsertBlob, Blob("trip-3"), tx);
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM blobs", transaction: tx);
            await c.DeferAsync(InsertBlob, Blob("trip-4"), tx);
        });
        var cost = Assert.Single(costs);
        // Five statements in two round trips: the read carries the first three, the COMMIT the last.
        Assert.Equal(5, cost.Statements);
        Assert.Equal(2, cost.RoundTrips);
    }

    /// <summary>
    /// What a run of three template phases costs on PostgreSQL, by kind of transaction: the create, the first claim
    /// with its start, each hand-off (finish one phase, start the next), the last finish. Round trips count the COMMIT.
    /// Before ADR 42 each statement was a round trip: create 13, claim + start 10, hand-off 12, last finish 12
    /// (statements + COMMIT); since: 7, 5, 6 and 5; a claim that also locks its run's row, and a start whose writes go
    /// with the COMMIT: claim + start 3. With the lease fence, the run's version guard and the key's stored bytes held
    /// back too, their checks riding with the next answer (ADR 53): create 5, hand-off 4, last finish 3. With the phase
    /// run read and locked by the claim, its start held back too (ADR 55): claim + start 2.
    /// </summary>
    [Fact]
    public async Task On_PostgreSQL_each_kind_of_transaction_of_a_run_takes_a_bounded_number_of_round_trips()
    {
        if (!TestDatabase.IsPostgres)
        {
            return; // SQLite has no round trips to save: the statement counts are TransitionStatementsTests'.
        }
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight })
        {
            Settings = { ["BATON_WORKERS"] = "1" },
        };
        var pg = (PostgresDatabase)factory.Service<Database>();
        var costs = new System.Collections.Concurrent.ConcurrentQueue<DeferredWrites.Cost>();
        pg.WriteCommitted = costs.Enqueue;
        var client = factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("straight", "count the round trips"));
        await client.WaitForStatusAsync(run.RunId, "completed");
        pg.WriteCommitted = null;

        static bool Has(DeferredWrites.Cost cost, string start) =>
            cost.Texts!.Any(t => t.Replace(DeferredWrites.HeldMark, "", StringComparison.Ordinal).TrimStart().StartsWith(start, StringComparison.Ordinal));
        var kinds = new (string Kind, Func<DeferredWrites.Cost, bool> Is, int MaxRoundTrips)[]
        {
            ("create", c => Has(c, "INSERT INTO runs("), 5),
            ("claim + start", c => Has(c, "INSERT INTO executions") && !Has(c, "DELETE FROM jobs WHERE id"), 2),
            ("hand-off", c => Has(c, "DELETE FROM jobs WHERE id") && Has(c, "INSERT INTO executions"), 4),
            ("last finish", c => Has(c, "DELETE FROM jobs WHERE id") && !Has(c, "INSERT INTO executions"), 3),
        };
        foreach (var (kind, isKind, max) in kinds)
        {
            var ofKind = costs.Where(isKind).ToList();
            Assert.NotEmpty(ofKind);
            foreach (var cost in ofKind)
            {
                output.WriteLine($"{kind}: {cost.Statements} statements, {cost.RoundTrips} round trips\n  {string.Join("\n  ", cost.Texts!.Select(t => t.Split('\n')[0]))}");
                Assert.True(cost.RoundTrips <= max, $"{kind}: {cost.RoundTrips} round trips for {cost.Statements} statements:\n{string.Join("\n", cost.Texts!)}");
            }
        }
        Assert.Equal(2, costs.Count(kinds[2].Is));
    }

    public void Dispose()
    {
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}
