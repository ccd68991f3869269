using System.Data;
using System.Data.Common;
using System.Threading.Channels;
using Npgsql;

namespace Baton.Storage;

/// <summary>
/// A node's PostgreSQL writes, several per transaction (ADR 48): writes queue up while a lane's transaction runs, and
/// the lane's next transaction runs all of them (up to <see cref="MaxBatch"/>) one after another and commits them
/// with one COMMIT. What one write holds back (ADR 42) rides with the next write's first round trip, and the batch
/// pays one COMMIT, one connection and one transaction's bookkeeping instead of one per write.
/// </summary>
/// <remarks>
/// <para>A write in a batch sees the writes before it, as it would had they committed just before it; the batch
/// commits or rolls back whole. If any write of a batch throws, or a statement is refused, the batch rolls back and
/// each of its writes then runs alone, in its own transaction and in the same order (its closure runs again, as after
/// a transient error), so each caller gets the outcome its write has on its own. No savepoints: on PostgreSQL each
/// one is a subtransaction and a statement, paid by every write, while a failing write is rare.</para>
/// <para>Callers learn their outcome only after the COMMIT returned. A COMMIT whose outcome is unknown (the
/// connection lost while it was sent) fails every write of the batch, as it fails a write alone.</para>
/// <para>Several lanes run at once, so that one batch's round trips do not hold up the next: each takes what is
/// queued when it is free.</para>
/// </remarks>
internal sealed class PostgresGroupCommit : IAsyncDisposable
{
    /// <summary>The most writes one transaction takes: a batch holds its rows' locks until its COMMIT.</summary>
    public const int MaxBatch = 32;

    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>();
    private readonly PostgresDatabase _db;
    private readonly Func<CancellationToken, ValueTask<Npgsql.NpgsqlConnection>> _open;
    private readonly Task[] _lanes;

    public PostgresGroupCommit(PostgresDatabase db, Func<CancellationToken, ValueTask<Npgsql.NpgsqlConnection>> open, int lanes)
    {
        _db = db;
        _open = open;
        _lanes = Enumerable.Range(0, lanes).Select(_ => Task.Run(LaneAsync)).ToArray();
    }

    private long _batches;
    private long _batchesRolledBack;

    /// <summary>Transactions of more than one write, committed or not.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Batches that rolled back and ran their writes alone.</summary>
    public long BatchesRolledBack => Interlocked.Read(ref _batchesRolledBack);

    public Task<T> EnqueueAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(ct);
        }
        var pending = new PendingWrite<T>(write, ct);
        return _queue.Writer.TryWrite(pending) ? pending.Task : Task.FromException<T>(new ObjectDisposedException(nameof(PostgresDatabase)));
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_lanes);
    }

    private async Task LaneAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
            {
                // A caller that gave up before its write began loses nothing by its write not running.
                if (!write.CancelIfRequested())
                {
                    batch.Add(write);
                }
            }
            await RunAsync(batch);
            batch.Clear();
        }
    }

    private Task RunAsync(List<PendingWrite> batch) => batch.Count switch
    {
        0 => Task.CompletedTask,
        1 => batch[0].RunAloneAsync(_db),
        _ => RunBatchAsync(batch),
    };

    private async Task RunBatchAsync(List<PendingWrite> batch)
    {
        Interlocked.Increment(ref _batches);
        var committing = false;
        PendingWrite? thrower = null;
        try
        {
            await using var connection = await _open(CancellationToken.None);
            await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted);
            var pipelined = new DeferredWrites.NpgsqlConnection(connection, keepTexts: _db.WriteCommitted is not null);
            await using var pipelinedTx = new DeferredWrites.PipelinedTransaction(pipelined, tx);
            foreach (var write in batch)
            {
                var mark = pipelined.Mark;
                thrower = write;
                await write.RunAsync(pipelined, pipelinedTx);
                write.Cost = pipelined.CostSince(mark);
            }
            thrower = null;
            committing = true;
            await pipelined.CommitAsync(tx);
            _db.Committed(pipelined.Cost, batch.Select(w => w.Cost));
        }
        catch (Exception ex) when (!committing || _db.Refused(ex))
        {
            // Nothing of the batch committed. The writes were all waiting at once, so any order of them is one their
            // callers could have seen. A write that threw something of its own (a conflict, not a statement the
            // database refused, which may be an earlier write's held-back one) runs alone, for the outcome it has on
            // its own, and the others go again as a batch; otherwise each runs alone.
            Interlocked.Increment(ref _batchesRolledBack);
            if (thrower is not null && !IsDatabaseError(ex))
            {
                await thrower.RunAloneAsync(_db);
                batch.Remove(thrower);
                await RunAsync(batch);
                return;
            }
            foreach (var write in batch)
            {
                await write.RunAloneAsync(_db);
            }
            return;
        }
        catch (Exception ex)
        {
            // The COMMIT's outcome is unknown: each caller learns so, as a write alone would.
            foreach (var write in batch)
            {
                write.Failed(ex);
            }
        }
        foreach (var write in batch)
        {
            write.Complete();
        }
    }

    private static bool IsDatabaseError(Exception ex) => ex is NpgsqlException || ex.InnerException is NpgsqlException;

    private abstract class PendingWrite
    {
        /// <summary>What the write cost within its batch, its share of the COMMIT not counted.</summary>
        public DeferredWrites.Cost Cost { get; set; }

        public abstract Task RunAsync(DbConnection connection, IDbTransaction tx);

        /// <summary>In a transaction of its own, with <see cref="PostgresDatabase"/>'s retries; completes the caller's task.</summary>
        public abstract Task RunAloneAsync(PostgresDatabase db);

        public abstract void Failed(Exception ex);

        public abstract bool CancelIfRequested();

        /// <summary>After the batch's COMMIT: hands the caller its result or its exception.</summary>
        public abstract void Complete();
    }

    private sealed class PendingWrite<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct) : PendingWrite
    {
        // Continuations run elsewhere: a caller's next step must not run on, and hold up, a lane.
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public Task<T> Task => _done.Task;

        public override async Task RunAsync(DbConnection connection, IDbTransaction tx) => _result = await write(connection, tx);

        public override async Task RunAloneAsync(PostgresDatabase db)
        {
            try
            {
                _done.TrySetResult(await db.WriteAloneAsync(write, ct));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                _done.TrySetCanceled(ct);
            }
            catch (Exception ex)
            {
                _done.TrySetException(ex);
            }
        }

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
