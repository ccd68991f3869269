using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Dapper;
using Npgsql;

namespace Baton.Storage;

/// <summary>
/// Statements of a write transaction whose result nobody reads (ADR 42): on PostgreSQL each statement is one round trip
/// to the server, so those are held back and sent in one <see cref="NpgsqlBatch"/> with the next statement that needs
/// an answer, or with the COMMIT. On SQLite (in-process, no round trip) they run at once, as before.
/// </summary>
/// <remarks>
/// A held-back statement that fails (a constraint, a deadlock) fails the statement it rides with, inside the write's
/// closure, with the same PostgresException: the transaction rolls back, and a transient error is retried, as if it
/// had failed at once. Only what returns nothing the caller looks at may be held back, and a guard or a fence whose rows
/// affected only decide whether the write goes on (<see cref="DeferCheckedAsync"/>, ADR 53). What RETURNING or rows
/// affected steer otherwise is sent at once, with whatever was held back before it.
/// </remarks>
public static class DeferredWrites
{
    /// <summary>
    /// A write that returns no rows and whose rows affected nobody reads (an event insert, a job delete, a `runs`
    /// touch): at once on SQLite, with the next round trip on PostgreSQL.
    /// </summary>
    public static Task DeferAsync(this IDbConnection c, string sql, object? param, IDbTransaction tx) =>
        c is NpgsqlConnection pipelined ? pipelined.DeferAsync(sql, param, tx, returnsRows: false, check: null) : c.ExecuteAsync(sql, param, tx);

    /// <summary>
    /// A write whose rows affected decide only whether the transaction goes on (a lease fence, a version guard): when it
    /// changed other than <paramref name="expectedRows"/> rows, <paramref name="refused"/>'s exception ends the write,
    /// and nothing of it commits. At once on SQLite; on PostgreSQL held back like <see cref="DeferAsync"/> and checked
    /// when the round trip that carries it returns, so the exception comes from the next statement that needs an answer
    /// (what ran in between rolls back with it), and never later than just before the COMMIT, which a held-back check
    /// never rides with.
    /// </summary>
    public static async Task DeferCheckedAsync(this IDbConnection c, string sql, object? param, IDbTransaction tx, int expectedRows, Func<Exception> refused)
    {
        if (c is NpgsqlConnection pipelined)
        {
            await pipelined.DeferAsync(sql, param, tx, returnsRows: false, new Check(expectedRows, refused));
        }
        else if (await c.ExecuteAsync(sql, param, tx) != expectedRows)
        {
            throw refused();
        }
    }

    /// <summary>What a held-back statement must have changed, and the exception that ends the write when it did not.</summary>
    internal sealed record Check(int ExpectedRows, Func<Exception> Refused);

    /// <summary>
    /// A <c>SELECT</c> run for what it does, not for its rows (the locks of a <c>SELECT … FOR UPDATE</c>, a
    /// <c>pg_notify</c> queued until the commit): with the next round trip on PostgreSQL, where the rows it returns are
    /// skipped; at once elsewhere.
    /// </summary>
    public static Task DeferSelectAsync(this IDbConnection c, string sql, object? param, IDbTransaction tx) =>
        c is NpgsqlConnection pipelined ? pipelined.DeferAsync(sql, param, tx, returnsRows: true, check: null) : c.ExecuteAsync(sql, param, tx);

    /// <summary>
    /// Releases <paramref name="savepoint"/> when the writes since it may as well fail with the COMMIT, which then fails
    /// the whole transaction (the caller handles that outside it): on PostgreSQL nothing is sent, and what is held back
    /// rides with the COMMIT, one round trip fewer (the COMMIT releases the savepoint); elsewhere released at once.
    /// </summary>
    public static Task ReleaseAtCommitAsync(this DbTransaction tx, string savepoint, CancellationToken ct) =>
        tx is PipelinedTransaction ? Task.CompletedTask : tx.ReleaseAsync(savepoint, ct);

    /// <summary>What starts the text of a held-back statement in <see cref="Cost.Texts"/>.</summary>
    public const string HeldMark = "[held] ";

    /// <summary>
    /// What one write transaction cost on PostgreSQL: statements run (the COMMIT not counted), and round trips (batches)
    /// that carried them, the COMMIT's included.
    /// </summary>
    public readonly record struct Cost(int Statements, int RoundTrips, IReadOnlyList<string>? Texts);

    /// <summary>
    /// The connection a PostgreSQL write transaction's closure gets: Npgsql's, with the statements marked as deferred
    /// held back. Named NpgsqlConnection on purpose: Dapper recognizes PostgreSQL by the connection's type name (to
    /// pass lists as arrays, as <c>= ANY(@list)</c> and <c>unnest</c> need), and this must look the same to it.
    /// </summary>
    [SuppressMessage("Naming", "CA1724", Justification = "Dapper recognizes PostgreSQL by this type name")]
    internal sealed class NpgsqlConnection(Npgsql.NpgsqlConnection inner, bool keepTexts) : DbConnection
    {
        private readonly List<(NpgsqlBatchCommand Command, bool ReturnsRows, Check? Check)> _deferred = [];

        /// <summary>The checked statements of the batch last sent, to verify once it has run.</summary>
        private readonly List<(NpgsqlBatchCommand Command, Check Check)> _sentChecks = [];
        private bool _deferring;

        /// <summary>Statements run (held back or not) and round trips they took, this transaction; the texts when asked for.</summary>
        public Cost Cost => new(_statements, _roundTrips, _texts);

        private int _statements;
        private int _roundTrips;
        private readonly List<string>? _texts = keepTexts ? [] : null;

        internal async Task DeferAsync(string sql, object? param, IDbTransaction tx, bool returnsRows, Check? check)
        {
            // Dapper binds the parameters as for any command; the command then lands in Held instead of running.
            _deferring = true;
            _deferringReturnsRows = returnsRows;
            _deferringCheck = check;
            try
            {
                await this.ExecuteAsync(sql, param, tx);
            }
            finally
            {
                _deferring = false;
            }
        }

        private bool _deferringReturnsRows;
        private Check? _deferringCheck;

        private bool HoldsChecks => _deferred.Exists(d => d.Check is not null);

        /// <summary>
        /// Runs <paramref name="send"/> (the batch <see cref="TakeBatch"/> made) and then verifies the checked statements
        /// it carried. A statement the server refused fails the batch with its own error, unless a checked statement
        /// before it had failed its check already: that one is what ended the write.
        /// </summary>
        private async Task<T> SentAsync<T>(Func<Task<T>> send)
        {
            T result;
            try
            {
                result = await send();
            }
            catch (PostgresException) when (FailedCheck() is { } failed)
            {
                throw failed.Refused();
            }
            VerifySentChecks();
            return result;
        }

        /// <summary>Throws the exception of the first checked statement of the batch last sent that changed other rows than it must have.</summary>
        private void VerifySentChecks()
        {
            if (FailedCheck() is { } failed)
            {
                throw failed.Refused();
            }
            _sentChecks.Clear();
        }

        /// <summary>
        /// The first checked statement of the batch last sent that ran and changed other rows than it must have. After a
        /// statement the server refused, it skipped the rest of the batch: those never ran (no command tag came back, so
        /// their statement type is still unknown) and say nothing.
        /// </summary>
        private Check? FailedCheck()
        {
            foreach (var (command, check) in _sentChecks)
            {
                if (command.StatementType != Npgsql.StatementType.Unknown && command.RecordsAffected != check.ExpectedRows)
                {
                    _sentChecks.Clear();
                    return check;
                }
            }
            return null;
        }

        /// <summary>Sends what is held back, alone, to learn whether its checks held: before a COMMIT or a savepoint.</summary>
        private async Task FlushChecksAsync(CancellationToken ct)
        {
            await using var batch = new NpgsqlBatch(inner);
            TakeHeld(batch);
            _roundTrips++;
            await SentAsync(() => batch.ExecuteNonQueryAsync(ct));
        }

        /// <summary>
        /// Commits <paramref name="tx"/>, with what is still held back in the same round trip (a COMMIT statement after
        /// them, which Npgsql sees end the transaction). Not cancellable: once sent, the caller learns whether it
        /// committed. A <see cref="PostgresException"/> from here means it did not: the server refused a statement or
        /// the COMMIT itself, and the rest of the batch was skipped.
        /// </summary>
        public async Task CommitAsync(NpgsqlTransaction tx)
        {
            if (HoldsChecks)
            {
                // A COMMIT sent with a check would commit whatever the check finds.
                await FlushChecksAsync(CancellationToken.None);
            }
            if (_deferred.Count == 0)
            {
                _roundTrips++;
                await tx.CommitAsync(CancellationToken.None);
                return;
            }
            await using var batch = TakeBatch(new NpgsqlBatchCommand("COMMIT"));
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
        }

        /// <summary>
        /// A savepoint set rides with the next round trip: it is only a marker in the statement order. Checks held back
        /// before it are sent first: a failed one must end the write, not surface after the savepoint, where the code
        /// that set it might roll back to it and go on.
        /// </summary>
        internal async Task SetSavepointAsync(string savepoint, CancellationToken ct)
        {
            if (HoldsChecks)
            {
                await FlushChecksAsync(ct);
            }
            Hold(new NpgsqlBatchCommand($"SAVEPOINT {savepoint}"), returnsRows: false, check: null);
        }

        /// <summary>
        /// Releases <paramref name="savepoint"/> with what is held back, in one round trip: the statements written since
        /// it was set fail here if they fail, while the code that set it can still roll back to it (a job's start,
        /// whose failure must not undo the claim in the same transaction).
        /// </summary>
        internal async Task ReleaseAsync(string savepoint, CancellationToken ct)
        {
            var release = new NpgsqlBatchCommand($"RELEASE SAVEPOINT {savepoint}");
            Count(release.CommandText, held: false);
            await using var batch = TakeBatch(release);
            await SentAsync(() => batch.ExecuteNonQueryAsync(ct));
        }

        /// <summary>
        /// Rolls back to <paramref name="savepoint"/>, which stays set (as in SQL): when it is still held back, so is
        /// everything written after it, which is dropped and nothing is sent; when it was sent, everything still held
        /// back came after it.
        /// </summary>
        internal async Task RollbackToAsync(string savepoint, CancellationToken ct)
        {
            var marker = $"SAVEPOINT {savepoint}";
            var held = _deferred.FindLastIndex(d => d.Command.CommandText == marker);
            if (held >= 0)
            {
                _deferred.RemoveRange(held + 1, _deferred.Count - held - 1);
                return;
            }
            _deferred.Clear();
            await using var command = new Npgsql.NpgsqlCommand($"ROLLBACK TO SAVEPOINT {savepoint}", inner);
            Count(command.CommandText, held: false);
            _roundTrips++;
            await command.ExecuteNonQueryAsync(ct);
        }

        private void Hold(NpgsqlBatchCommand command, bool returnsRows, Check? check)
        {
            Count(command.CommandText, held: true);
            _deferred.Add((command, returnsRows, check));
        }

        private void Count(string text, bool held)
        {
            _statements++;
            _texts?.Add(held ? HeldMark + text : text);
        }

        /// <summary>A statement that needs its answer now, alone: one round trip.</summary>
        private void CountAlone(string text)
        {
            Count(text, held: false);
            _roundTrips++;
        }

        /// <summary>A batch of what is held back, then <paramref name="last"/>; the held-back list is empty after.</summary>
        private NpgsqlBatch TakeBatch(NpgsqlBatchCommand last)
        {
            var batch = new NpgsqlBatch(inner);
            TakeHeld(batch);
            batch.BatchCommands.Add(last);
            _roundTrips++;
            return batch;
        }

        /// <summary>Moves what is held back into <paramref name="batch"/>; its checks are verified once the batch has run.</summary>
        private void TakeHeld(NpgsqlBatch batch)
        {
            _sentChecks.Clear();
            foreach (var (command, _, check) in _deferred)
            {
                batch.BatchCommands.Add(command);
                if (check is not null)
                {
                    _sentChecks.Add((command, check));
                }
            }
            _deferred.Clear();
        }

        /// <summary>How many result sets the held-back statements return (locks'), to skip before the one asked for.</summary>
        private int HeldResultSets => _deferred.Count(d => d.ReturnsRows);

        [AllowNull]
        public override string ConnectionString
        {
            get => inner.ConnectionString;
            set => throw new NotSupportedException("a write transaction's connection stays as it is");
        }

        public override string Database => inner.Database;

        public override string DataSource => inner.DataSource;

        public override string ServerVersion => inner.ServerVersion;

        public override ConnectionState State => inner.State;

        public override void ChangeDatabase(string databaseName) => throw new NotSupportedException("a write transaction's connection stays as it is");

        public override void Close() => inner.Close();

        public override void Open() => inner.Open();

        protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) =>
            throw new NotSupportedException("a write transaction's closure runs inside its transaction already");

        protected override DbCommand CreateDbCommand() => new Command(this, inner.CreateCommand());

        /// <summary>
        /// What Dapper fills in and runs. Alone (nothing held back), it runs as Npgsql's own command, auto-prepared as
        /// before; otherwise as the last statement of a batch after the held-back ones.
        /// </summary>
        private sealed class Command(NpgsqlConnection connection, NpgsqlCommand inner) : DbCommand
        {
            [AllowNull]
            public override string CommandText
            {
                get => inner.CommandText;
                set => inner.CommandText = value;
            }

            public override int CommandTimeout
            {
                get => inner.CommandTimeout;
                set => inner.CommandTimeout = value;
            }

            public override CommandType CommandType
            {
                get => inner.CommandType;
                set => inner.CommandType = value;
            }

            public override bool DesignTimeVisible { get; set; }

            public override UpdateRowSource UpdatedRowSource { get; set; }

            protected override DbConnection? DbConnection
            {
                get => connection;
                set => throw new NotSupportedException("a command of a write transaction stays on its connection");
            }

            protected override DbParameterCollection DbParameterCollection => inner.Parameters;

            protected override DbTransaction? DbTransaction
            {
                get => field;
                set
                {
                    field = value;
                    inner.Transaction = (value as PipelinedTransaction)?.Inner ?? value as NpgsqlTransaction;
                }
            }

            public override void Cancel() => inner.Cancel();

            public override void Prepare()
            {
            }

            protected override DbParameter CreateDbParameter() => inner.CreateParameter();

            // Baton's writes are async; a synchronous call waits for the same path (no synchronization context here).
            public override int ExecuteNonQuery() => ExecuteNonQueryAsync(CancellationToken.None).GetAwaiter().GetResult();

            public override object? ExecuteScalar() => ExecuteScalarAsync(CancellationToken.None).GetAwaiter().GetResult();

            protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) =>
                ExecuteDbDataReaderAsync(behavior, CancellationToken.None).GetAwaiter().GetResult();

            public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
            {
                if (connection._deferring)
                {
                    connection.Hold(AsBatchCommand(), connection._deferringReturnsRows, connection._deferringCheck);
                    return 0;
                }
                if (connection._deferred.Count == 0)
                {
                    connection.CountAlone(inner.CommandText);
                    return await inner.ExecuteNonQueryAsync(cancellationToken);
                }
                connection.Count(inner.CommandText, held: false);
                await using var batch = connection.TakeBatch(AsBatchCommand());
                await connection.SentAsync(() => batch.ExecuteNonQueryAsync(cancellationToken));
                return batch.BatchCommands[^1].RecordsAffected;
            }

            public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
            {
                if (connection._deferred.Count == 0)
                {
                    connection.CountAlone(inner.CommandText);
                    return await inner.ExecuteScalarAsync(cancellationToken);
                }
                await using var reader = await ExecuteDbDataReaderAsync(CommandBehavior.Default, cancellationToken);
                return await reader.ReadAsync(cancellationToken) && reader.FieldCount > 0 ? reader.GetValue(0) : null;
            }

            protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
            {
                if (connection._deferred.Count == 0)
                {
                    connection.CountAlone(inner.CommandText);
                    return await inner.ExecuteReaderAsync(behavior, cancellationToken);
                }
                connection.Count(inner.CommandText, held: false);
                var skip = connection.HeldResultSets;
                // The batch lives as long as its reader; it holds nothing unmanaged. SingleRow and SingleResult would
                // apply to the batch's first result set, which may be a held-back lock's.
                var batch = connection.TakeBatch(AsBatchCommand());
                return await connection.SentAsync(async () =>
                {
                    var reader = await batch.ExecuteReaderAsync(behavior & ~(CommandBehavior.SingleRow | CommandBehavior.SingleResult), cancellationToken);
                    try
                    {
                        // Past the held-back statements, every one of them has run: their checks can be verified.
                        for (var i = 0; i < skip; i++)
                        {
                            await reader.NextResultAsync(cancellationToken);
                        }
                        connection.VerifySentChecks();
                    }
                    catch
                    {
                        await reader.DisposeAsync();
                        throw;
                    }
                    return (DbDataReader)reader;
                });
            }

            /// <summary>This command's text and parameters as a statement of a batch (the parameters move over).</summary>
            private NpgsqlBatchCommand AsBatchCommand()
            {
                var command = new NpgsqlBatchCommand(inner.CommandText);
                var parameters = inner.Parameters.ToArray();
                inner.Parameters.Clear();
                foreach (var parameter in parameters)
                {
                    command.Parameters.Add(parameter);
                }
                return command;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>
    /// The transaction a PostgreSQL write's closure gets: Npgsql's, whose savepoints go in the statement order of the
    /// held-back writes (a savepoint set is held back too; its release sends what was held back since, so that their
    /// errors surface before it; a rollback to one drops what came after it).
    /// COMMIT and ROLLBACK stay with <see cref="PostgresDatabase.WriteAsync{T}"/>, which sends what is held back with the COMMIT.
    /// </summary>
    internal sealed class PipelinedTransaction(NpgsqlConnection connection, NpgsqlTransaction inner) : DbTransaction
    {
        public NpgsqlTransaction Inner => inner;

        public override IsolationLevel IsolationLevel => inner.IsolationLevel;

        protected override DbConnection DbConnection => connection;

        public override bool SupportsSavepoints => true;

        public override void Commit() => throw new NotSupportedException("the write commits when its closure returns");

        public override void Rollback() => throw new NotSupportedException("the write rolls back when its closure throws");

        public override Task SaveAsync(string savepointName, CancellationToken cancellationToken = default) =>
            connection.SetSavepointAsync(Checked(savepointName), cancellationToken);

        public override Task ReleaseAsync(string savepointName, CancellationToken cancellationToken = default) =>
            connection.ReleaseAsync(Checked(savepointName), cancellationToken);

        public override Task RollbackAsync(string savepointName, CancellationToken cancellationToken = default) =>
            connection.RollbackToAsync(Checked(savepointName), cancellationToken);

        public override void Save(string savepointName) => SaveAsync(savepointName).GetAwaiter().GetResult();

        public override void Release(string savepointName) => ReleaseAsync(savepointName).GetAwaiter().GetResult();

        public override void Rollback(string savepointName) => RollbackAsync(savepointName).GetAwaiter().GetResult();

        /// <summary>Savepoint names are Baton's own constants; a plain identifier keeps them safe to put in the SQL.</summary>
        private static string Checked(string name) =>
            name.Length > 0 && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_')
                ? name
                : throw new ArgumentException($"'{name}' is not a plain savepoint name", nameof(name));
    }
}
