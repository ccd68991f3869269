using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;

namespace Baton.Storage;

/// <summary>
/// SQLite's one writer, as one loop over one connection. Writes queue up while a COMMIT waits for its fsync; the
/// next transaction takes all of them (up to <see cref="SqliteDatabase.MaxBatch"/>), each in a SAVEPOINT of its own, and
/// commits them with one COMMIT — one fsync for the batch instead of one per write, so durable writes per second
/// grow with the load instead of being capped by the disk's flush latency.
/// </summary>
/// <remarks>
/// Callers learn their outcome only after the COMMIT returned (or failed, which fails the whole batch): no caller
/// acts on a write that could still be rolled back.
/// </remarks>
internal sealed class GroupCommitWriter : IAsyncDisposable
{
    private const string Savepoint = "write";

    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PreparedStatementConnection _connection;
    private readonly Task _loop;
    private long _commits;
    private long _writes;
    private long _busyTicks;

    private readonly Action _ended;

    /// <param name="connection">The writer's own connection.</param>
    /// <param name="ended">Called after each batch's COMMIT (or its failure), before its writers learn the outcome.</param>
    public GroupCommitWriter(PreparedStatementConnection connection, Action ended)
    {
        _connection = connection;
        _ended = ended;
        _loop = Task.Run(WriteLoopAsync);
    }

    public long Commits => Interlocked.Read(ref _commits);

    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>
    /// How long the loop has spent running batches and committing them (its waits for work left out): the part of the
    /// time the node's writes had the writer. Real time of real work, so the Stopwatch's, not a clock tests set.
    /// </summary>
    public TimeSpan Busy => TimeSpan.FromTicks(Interlocked.Read(ref _busyTicks));

    /// <summary>Read between writes only (the writer's loop changes it).</summary>
    public long Prepares => _connection.Prepares;

    public Task<T> EnqueueAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(ct);
        }
        var pending = new PendingWrite<T>(write, ct);
        return _queue.Writer.TryWrite(pending) ? pending.Task : Task.FromException<T>(new ObjectDisposedException(nameof(SqliteDatabase)));
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        await _connection.DisposeAsync();
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(SqliteDatabase.MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < SqliteDatabase.MaxBatch && _queue.Reader.TryRead(out var write))
            {
                // A caller that gave up before its write began loses nothing by its write not running.
                if (!write.CancelIfRequested())
                {
                    batch.Add(write);
                }
            }
            if (batch.Count > 0)
            {
                Interlocked.Add(ref _writes, batch.Count);
                var started = Stopwatch.GetTimestamp();
                await CommitAsync(batch);
                Interlocked.Add(ref _busyTicks, Stopwatch.GetElapsedTime(started).Ticks);
                batch.Clear();
            }
        }
    }

    private async Task CommitAsync(List<PendingWrite> batch)
    {
        try
        {
            // BEGIN IMMEDIATE (Microsoft.Data.Sqlite's non-deferred transaction): the write lock is taken before
            // the first read, so no other process can slip a write between a read and the decision made on it.
            await using var tx = _connection.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            foreach (var write in batch)
            {
                tx.Save(Savepoint);
                try
                {
                    await write.RunAsync(_connection, tx);
                    tx.Release(Savepoint);
                }
                catch (Exception ex)
                {
                    // Only this write's changes go; its neighbours in the batch still commit.
                    tx.Rollback(Savepoint);
                    tx.Release(Savepoint);
                    write.Failed(ex);
                }
            }
            await tx.CommitAsync();
            Interlocked.Increment(ref _commits);
        }
        catch (Exception ex)
        {
            // BEGIN, a savepoint or the COMMIT failed: nothing of the batch is in the database.
            foreach (var write in batch)
            {
                write.Failed(ex);
            }
            RollBackIfOpen();
        }
        _ended();
        foreach (var write in batch)
        {
            write.Complete();
        }
    }

    /// <summary>Some errors (a full disk, I/O) end SQLite's transaction themselves, others leave it open: never carry one into the next batch.</summary>
    private void RollBackIfOpen()
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0)
        {
            using var rollback = _connection.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }
    }

    private abstract class PendingWrite
    {
        public abstract Task RunAsync(DbConnection connection, IDbTransaction tx);

        /// <summary>Records a failure; the first one counts (a write that failed alone stays failed if the COMMIT fails too).</summary>
        public abstract void Failed(Exception ex);

        public abstract bool CancelIfRequested();

        /// <summary>After the batch's COMMIT (or its failure): hands the caller its result or its exception.</summary>
        public abstract void Complete();
    }

    private sealed class PendingWrite<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct) : PendingWrite
    {
        // Continuations run elsewhere: a caller's next step must not run on, and hold up, the writer's loop.
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public Task<T> Task => _done.Task;

        public override async Task RunAsync(DbConnection connection, IDbTransaction tx) => _result = await write(connection, tx);

        public override void Failed(Exception ex) => _error ??= ex;

        public override bool CancelIfRequested() => ct.IsCancellationRequested && _done.TrySetCanceled(ct);

        public override void Complete()
        {
            if (_error is null)
            {
                _done.TrySetResult(_result!);
            }
            else
            {
                _done.TrySetException(_error);
            }
        }
    }
}
