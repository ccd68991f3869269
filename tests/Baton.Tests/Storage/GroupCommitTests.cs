using System.Data;
using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Storage;

public sealed class GroupCommitTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-writer-").FullName;
    private SqliteDatabase _db = null!;

    public async Task InitializeAsync()
    {
        _db = new SqliteDatabase(Path.Combine(_dir, "w.db"));
        await _db.WriteAsync((c, tx) => c.ExecuteAsync(
            """
            CREATE TABLE parents (id INTEGER PRIMARY KEY);
            CREATE TABLE items (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);
            """, transaction: tx));
    }

    [Fact]
    public async Task Writes_queued_together_share_one_commit_and_a_failing_one_rolls_back_alone()
    {
        // The writer is busy with the first write while three more queue up behind it: they form the next batch.
        var (first, release) = await HoldTheWriterAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (1)", transaction: tx));
        var commitsBefore = _db.Commits;

        var second = _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (2)", transaction: tx));
        var failing = _db.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync("INSERT INTO items(id) VALUES (3)", transaction: tx);
            throw new InvalidOperationException("this write changed its mind");
        });
        var fourth = _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (4)", transaction: tx));
        release.SetResult();

        await first;
        await second;
        await fourth;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.Equal("this write changed its mind", error.Message);
        Assert.Equal(new long[] { 1, 2, 4 }, await CommittedItemsAsync());
        // The held write's batch, then one batch for the three queued behind it.
        Assert.Equal(commitsBefore + 2, _db.Commits);
    }

    [Fact]
    public async Task A_failing_commit_fails_every_write_of_its_batch_and_keeps_none_of_them()
    {
        var (first, release) = await HoldTheWriterAsync();

        var fine = _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (10)", transaction: tx));
        // A deferred foreign key is checked at COMMIT: the statement succeeds and the batch's COMMIT fails.
        var orphan = _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id, parent) VALUES (11, 99)", transaction: tx));
        release.SetResult();
        await first;

        Assert.Equal(19, (await Assert.ThrowsAsync<SqliteException>(() => fine)).SqliteErrorCode); // SQLITE_CONSTRAINT
        await Assert.ThrowsAsync<SqliteException>(() => orphan);
        Assert.Empty(await CommittedItemsAsync());

        // The writer carries on with a clean transaction.
        await _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (12)", transaction: tx));
        Assert.Equal(new long[] { 12 }, await CommittedItemsAsync());
    }

    [Fact]
    public async Task A_write_whose_caller_gave_up_before_it_began_does_not_run()
    {
        var (first, release) = await HoldTheWriterAsync();

        using var giveUp = new CancellationTokenSource();
        var abandoned = _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (20)", transaction: tx), giveUp.Token);
        await giveUp.CancelAsync();
        release.SetResult();
        await first;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.Empty(await CommittedItemsAsync());
    }

    [Fact]
    public async Task The_writer_prepares_a_statement_once_and_runs_it_again_with_new_values()
    {
        const string Insert = "INSERT INTO items(id) VALUES (@id)";
        await _db.WriteAsync((c, tx) => c.ExecuteAsync(Insert, new { id = 1 }, tx));
        var afterFirst = _db.Prepares;
        for (var id = 2; id <= 5; id++)
        {
            await _db.WriteAsync((c, tx) => c.ExecuteAsync(Insert, new { id }, tx));
        }

        Assert.Equal(afterFirst, _db.Prepares);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, await CommittedItemsAsync());

        // The same text again while its reader is still open gets a statement of its own.
        var nested = await _db.WriteAsync(async (c, tx) =>
        {
            const string Select = "SELECT id FROM items WHERE id >= @from ORDER BY id";
            var sums = new List<long>();
            foreach (var id in c.Query<long>(Select, new { from = 4 }, tx, buffered: false))
            {
                sums.Add(id + (await c.QueryAsync<long>(Select, new { from = 5 }, tx)).Sum());
            }
            return sums;
        });
        Assert.Equal(new long[] { 9, 10 }, nested);
    }

    [Fact]
    public async Task Readers_keep_their_statements_prepared_and_still_see_each_commit()
    {
        const string Count = "SELECT COUNT(*) FROM items WHERE id >= @from";
        Assert.Equal(0, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>(Count, new { from = 0 })));
        var afterFirst = _db.ReaderPrepares;
        for (var id = 1; id <= 5; id++)
        {
            await _db.WriteAsync((c, tx) => c.ExecuteAsync("INSERT INTO items(id) VALUES (@id)", new { id }, tx));
            // The reader kept from the last read holds no snapshot: it counts the row just committed.
            Assert.Equal(id, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>(Count, new { from = 0 })));
        }
        Assert.Equal(afterFirst, _db.ReaderPrepares);

        // A read that failed gives its connection up; the next read works as before.
        await Assert.ThrowsAsync<SqliteException>(() => _db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT nope FROM items")));
        Assert.Equal(3, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>(Count, new { from = 3 })));

        // Reads at the same time each get a connection: one does not see the other's open reader.
        var together = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            _db.ReadAsync(async c => (await c.QueryAsync<long>("SELECT id FROM items ORDER BY id")).Sum()))));
        Assert.All(together, sum => Assert.Equal(15, sum));
    }

    [Fact]
    public async Task The_writer_reads_pages_through_a_memory_map_and_readers_do_not()
    {
        Assert.True(await _db.WriteAsync((c, tx) => c.ExecuteScalarAsync<long>("PRAGMA mmap_size", transaction: tx)) > 0);
        // Each commit would make a reader unmap and map the file again.
        Assert.Equal(0, await _db.ReadAsync(c => c.ExecuteScalarAsync<long>("PRAGMA mmap_size")));
    }

    /// <summary>A write that keeps the writer busy until released: writes queued meanwhile form the next batch.</summary>
    private async Task<(Task Held, TaskCompletionSource Release)> HoldTheWriterAsync(Func<System.Data.Common.DbConnection, IDbTransaction, Task>? thenWrite = null)
    {
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = _db.WriteAsync(async (c, tx) =>
        {
            holding.SetResult();
            await release.Task;
            if (thenWrite is not null)
            {
                await thenWrite(c, tx);
            }
        });
        await holding.Task;
        return (held, release);
    }

    /// <summary>Read through a connection of its own: only what was committed.</summary>
    private async Task<long[]> CommittedItemsAsync()
    {
        await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _db.Path, Pooling = false }.ToString());
        await c.OpenAsync();
        return (await c.QueryAsync<long>("SELECT id FROM items ORDER BY id")).ToArray();
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        using (var pooled = new SqliteConnection(_db.ConnectionString))
        {
            SqliteConnection.ClearPool(pooled);
        }
        Directory.Delete(_dir, recursive: true);
    }
}
