using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Baton.Storage;

/// <summary>
/// The writer's connection and the readers', which keep every SQL text's prepared statements for their whole life. Microsoft.Data.Sqlite
/// keeps them only as long as one command object lives (dotnet/efcore#14044), and Dapper makes a new command for every
/// call, so each statement of each transition was parsed and planned again; here it is bound and run.
/// </summary>
/// <remarks>
/// Dapper asks for commands through <see cref="IDbConnection.CreateCommand"/>, which lands in
/// <see cref="CreateDbCommand"/>: the command it gets collects the text and parameters and, when run, runs the
/// prepared command for that text. Prepared statements survive schema changes (SQLite re-prepares them itself).
/// </remarks>
/// <param name="connectionString">Where, and how to open it.</param>
/// <param name="onPrepare">Told of each SQL text prepared: how the database counts its readers' prepares.</param>
internal sealed class PreparedStatementConnection(string connectionString, Action? onPrepare = null) : SqliteConnection(connectionString)
{
    /// <summary>The hot path has a few dozen distinct statements; a bound keeps text built at run time from piling up.</summary>
    private const int Capacity = 512;

    private readonly Dictionary<string, Prepared> _prepared = new(StringComparer.Ordinal);

    private readonly Dictionary<string, RowStatement> _rowStatements = new(StringComparer.Ordinal);

    /// <summary>SQL texts prepared since the connection opened (each once, unless the cache was full).</summary>
    public long Prepares { get; private set; }

    protected override DbCommand CreateDbCommand() => new ReusingCommand(this);

    /// <summary>
    /// The rows of <paramref name="sql"/> (one statement) with <paramref name="parameters"/> bound by name (without the
    /// @), read by a <see cref="SqliteRowReader"/> from a statement kept prepared; it runs in the connection's
    /// transaction, if any.
    /// </summary>
    public DbDataReader ExecuteRows(string sql, IReadOnlyDictionary<string, object?> parameters)
    {
        var db = Handle ?? throw new InvalidOperationException("the connection is not open");
        if (!_rowStatements.TryGetValue(sql, out var statement) || statement.InUse)
        {
            // A one-off when the kept one is still being read (a read inside another's rows).
            var kept = statement is null;
            statement = new RowStatement(Prepare(db, sql)) { OneOff = !kept };
            if (kept)
            {
                if (_rowStatements.Count >= Capacity)
                {
                    ForgetAll();
                }
                Prepares++;
                onPrepare?.Invoke();
                _rowStatements[sql] = statement;
            }
        }
        statement.InUse = true;
        try
        {
            Bind(statement.Statement, parameters);
        }
        catch
        {
            statement.Done();
            throw;
        }
        return new SqliteRowReader(db, statement.Statement, statement.Done);
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        sqlite3_stmt statement = null!;
        var tail = "";
        // Preparing reads the schema, which may meet a lock too.
        var rc = SqliteRowReader.WhileBusy(() => raw.sqlite3_prepare_v2(db, sql, out statement, out tail));
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
        }
        if (!string.IsNullOrWhiteSpace(tail))
        {
            statement.Dispose();
            throw new ArgumentException("one statement only", nameof(sql));
        }
        return statement;
    }

    private static void Bind(sqlite3_stmt statement, IReadOnlyDictionary<string, object?> parameters)
    {
        for (var i = 1; i <= raw.sqlite3_bind_parameter_count(statement); i++)
        {
            var name = raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string()
                ?? throw new ArgumentException($"parameter {i} has no name: only named ones are bound here", nameof(parameters));
            // Named as Dapper names them: without the @ the SQL writes.
            if (!parameters.TryGetValue(name[1..], out var value))
            {
                throw new ArgumentException($"no value for {name}", nameof(parameters));
            }
            var rc = value switch
            {
                null => raw.sqlite3_bind_null(statement, i),
                string text => raw.sqlite3_bind_text(statement, i, text),
                int number => raw.sqlite3_bind_int64(statement, i, number),
                long number => raw.sqlite3_bind_int64(statement, i, number),
                bool flag => raw.sqlite3_bind_int64(statement, i, flag ? 1 : 0),
                double number => raw.sqlite3_bind_double(statement, i, number),
                _ => throw new ArgumentException($"{name}: {value.GetType().Name} is not bound here", nameof(parameters)),
            };
            if (rc != raw.SQLITE_OK)
            {
                throw new SqliteException($"binding {name} failed", rc);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ForgetAll();
        }
        base.Dispose(disposing);
    }

    private int ExecuteNonQuery(ReusingCommand command) => Bind(command).Command.ExecuteNonQuery();

    private object? ExecuteScalar(ReusingCommand command) => Bind(command).Command.ExecuteScalar();

    private SqliteDataReader ExecuteReader(ReusingCommand command, CommandBehavior behavior)
    {
        var prepared = Bind(command);
        return prepared.Reader = prepared.Command.ExecuteReader(behavior);
    }

    private Prepared Bind(ReusingCommand command)
    {
        var prepared = PreparedFor(command.CommandText);
        prepared.Command.Transaction = (SqliteTransaction?)command.Transaction;
        prepared.Command.Parameters.Clear();
        foreach (SqliteParameter parameter in command.Parameters)
        {
            prepared.Command.Parameters.Add(parameter);
        }
        return prepared;
    }

    /// <summary>
    /// The prepared command for <paramref name="sql"/>; a one-off when that one still has a reader open (the one-off
    /// may back a reader too, so it is left to the connection, which disposes its commands when it closes).
    /// </summary>
    private Prepared PreparedFor(string sql)
    {
        if (_prepared.TryGetValue(sql, out var prepared))
        {
            return prepared.Reader is { IsClosed: false } ? new Prepared(NewCommand(sql)) : prepared;
        }
        if (_prepared.Count >= Capacity)
        {
            ForgetAll();
        }
        // Not Prepare(): that prepares every statement of the text up front, before an earlier one (a CREATE TABLE)
        // has run. A command prepares its statements as it first runs them and keeps them for the next run.
        prepared = new Prepared(NewCommand(sql));
        Prepares++;
        onPrepare?.Invoke();
        _prepared[sql] = prepared;
        return prepared;
    }

    private SqliteCommand NewCommand(string sql)
    {
        var command = base.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private void ForgetAll()
    {
        foreach (var prepared in _prepared.Values)
        {
            prepared.Command.Dispose();
        }
        _prepared.Clear();
        // A statement a reader still reads is finalized when that reader is done with it.
        foreach (var statement in _rowStatements.Values)
        {
            if (statement.InUse)
            {
                statement.OneOff = true;
            }
            else
            {
                statement.Statement.Dispose();
            }
        }
        _rowStatements.Clear();
    }

    /// <summary>What Dapper fills in: the text, the transaction and the parameters, run through the prepared command.</summary>
    private sealed class ReusingCommand(PreparedStatementConnection connection) : DbCommand
    {
        // A command that is never run holds only these managed parameter objects; nothing native.
        private readonly SqliteCommand _parameters = new();

        [AllowNull]
        public override string CommandText { get; set; } = "";

        public override int CommandTimeout { get; set; } = connection.DefaultTimeout;

        public override CommandType CommandType { get; set; } = CommandType.Text;

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection
        {
            get => connection;
            set => throw new NotSupportedException("a command of the writer's connection stays on it");
        }

        protected override DbParameterCollection DbParameterCollection => _parameters.Parameters;

        protected override DbTransaction? DbTransaction { get; set; }

        public override void Cancel()
        {
        }

        public override void Prepare()
        {
        }

        public override int ExecuteNonQuery() => connection.ExecuteNonQuery(this);

        public override object? ExecuteScalar() => connection.ExecuteScalar(this);

        protected override DbParameter CreateDbParameter() => new SqliteParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => connection.ExecuteReader(this, behavior);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _parameters.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>A prepared command and the last reader it gave, which must be closed before the command runs again.</summary>
    private sealed class Prepared(SqliteCommand command)
    {
        public SqliteCommand Command { get; } = command;

        public SqliteDataReader? Reader { get; set; }
    }

    /// <summary>A statement of <see cref="ExecuteRows"/>, and whether a reader still reads it or it is to be finalized after.</summary>
    private sealed class RowStatement(sqlite3_stmt statement)
    {
        public sqlite3_stmt Statement { get; } = statement;

        public bool InUse { get; set; }

        public bool OneOff { get; set; }

        /// <summary>Its reader is done: reset, which ends the statement's read of the database, or finalize a one-off.</summary>
        public void Done()
        {
            raw.sqlite3_reset(Statement);
            raw.sqlite3_clear_bindings(Statement);
            InUse = false;
            if (OneOff)
            {
                Statement.Dispose();
            }
        }
    }
}
