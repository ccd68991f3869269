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
/// had failed at once. Only what returns nothing the caller looks at may be held back: never a guard or a fence whose
/// rows affected or RETURNING decide what comes next. Those are sent at once, with whatever was held back before them.
/// </remarks>
public static class DeferredWrites
{
    /// <summary>
    /// A write that returns no rows and whose rows affected nobody reads (an event insert, a job delete, a `runs`
    /// touch): at once on SQLite, with the next round trip on PostgreSQL.
    /// </summary>
    public static Task DeferAsync(this IDbConnection c, string sql, object? param, IDbTransaction tx) =>
        c is NpgsqlConnection pipelined ? pipelined.DeferAsync(sql, param, tx, returnsRows: false) : c.ExecuteAsync(sql, param, tx);

    /// <summary>
    /// A <c>SELECT</c> run for what it does, not for its rows (the locks of a <c>SELECT … FOR UPDATE</c>, a
    /// <c>pg_notify</c> queued until the commit): with the next round trip on PostgreSQL, where the rows it returns are
    /// skipped; at once elsewhere.
    /// </summary>
    public static Task DeferSelectAsync(this IDbConnection c, string sql, object? param, IDbTransaction tx) =>
        c is NpgsqlConnection pipelined ? pipelined.DeferAsync(sql, param, tx, returnsRows: true) : c.ExecuteAsync(sql, param, tx);

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
        private readonly List<(NpgsqlBatchCommand Command, bool ReturnsRows)> _deferred = [];
        private bool _deferring;

        /// <summary>Statements run (held back or not) and round trips they took, this transaction; the texts when asked for.</summary>
        public Cost Cost => new(_statements, _roundTrips, _texts);

        private int _statements;
        private int _roundTrips;
        private readonly List<string>? _texts = keepTexts ? [] : null;

        internal async Task DeferAsync(string sql, object? param, IDbTransaction tx, bool returnsRows)
        {
            // Dapper binds the parameters as for any command; the command then lands in Held instead of running.
            _deferring = true;
            _deferringReturnsRows = returnsRows;
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

        /// <summary>
        /// Commits <paramref name="tx"/>, with what is still held back in the same round trip (a COMMIT statement after
        /// them, which Npgsql sees end the transaction). Not cancellable: once sent, the caller learns whether it
        /// committed. A <see cref="PostgresException"/> from here means it did not: the server refused a statement or
        /// the COMMIT itself, and the rest of the batch was skipped.
        /// </summary>
        public async Task CommitAsync(NpgsqlTransaction tx)
        {
            if (_deferred.Count == 0)
            {
                _roundTrips++;
                await tx.CommitAsync(CancellationToken.None);
                return;
            }
            await using var batch = TakeBatch(new NpgsqlBatchCommand("COMMIT"));
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
        }

        /// <summary>A savepoint set rides with the next round trip: it is only a marker in the statement order.</summary>
        internal void SetSavepoint(string savepoint) => Hold(new NpgsqlBatchCommand($"SAVEPOINT {savepoint}"), returnsRows: false);

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
            await batch.ExecuteNonQueryAsync(ct);
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

        private void Hold(NpgsqlBatchCommand command, bool returnsRows)
        {
            Count(command.CommandText, held: true);
            _deferred.Add((command, returnsRows));
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
            foreach (var (command, _) in _deferred)
            {
                batch.BatchCommands.Add(command);
            }
            _deferred.Clear();
            batch.BatchCommands.Add(last);
            _roundTrips++;
            return batch;
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
                    connection.Hold(AsBatchCommand(), connection._deferringReturnsRows);
                    return 0;
                }
                if (connection._deferred.Count == 0)
                {
                    connection.CountAlone(inner.CommandText);
                    return await inner.ExecuteNonQueryAsync(cancellationToken);
                }
                connection.Count(inner.CommandText, held: false);
                await using var batch = connection.TakeBatch(AsBatchCommand());
                await batch.ExecuteNonQueryAsync(cancellationToken);
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
                var reader = await batch.ExecuteReaderAsync(behavior & ~(CommandBehavior.SingleRow | CommandBehavior.SingleResult), cancellationToken);
                for (var i = 0; i < skip; i++)
                {
                    await reader.NextResultAsync(cancellationToken);
                }
                return reader;
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

        public override Task SaveAsync(string savepointName, CancellationToken cancellationToken = default)
        {
            connection.SetSavepoint(Checked(savepointName));
            return Task.CompletedTask;
        }

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
