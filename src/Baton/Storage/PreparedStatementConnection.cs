using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
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

    /// <summary>Texts of several statements, which run through Microsoft.Data.Sqlite's commands.</summary>
    private readonly HashSet<string> _compound = new(StringComparer.Ordinal);

    /// <summary>SQL texts prepared since the connection opened (each once, unless the cache was full).</summary>
    public long Prepares { get; private set; }

    /// <summary>Commands run on a kept statement with their values bound here, not by Microsoft.Data.Sqlite.</summary>
    public long BoundHere { get; private set; }

    protected override DbCommand CreateDbCommand() => new ReusingCommand(this);

    /// <summary>
    /// The rows of <paramref name="sql"/> (one statement) with <paramref name="parameters"/> bound by name (without the
    /// @), read by a <see cref="SqliteRowReader"/> from a statement kept prepared; it runs in the connection's
    /// transaction, if any.
    /// </summary>
    public DbDataReader ExecuteRows(string sql, IReadOnlyDictionary<string, object?> parameters)
    {
        var statement = Take(sql) ?? throw new ArgumentException("one statement only", nameof(sql));
        try
        {
            for (var i = 1; i <= statement.Names.Length; i++)
            {
                var name = statement.Names[i - 1] ?? throw new ArgumentException($"parameter {i} has no name: only named ones are bound here", nameof(parameters));
                if (!parameters.TryGetValue(name, out var value))
                {
                    throw new ArgumentException($"no value for @{name}", nameof(parameters));
                }
                if (!TryBindValue(statement.Statement, i, value))
                {
                    throw new ArgumentException($"@{name}: {value!.GetType().Name} is not bound here", nameof(parameters));
                }
            }
        }
        catch
        {
            statement.Done();
            throw;
        }
        return new SqliteRowReader(Handle!, statement.Statement, statement.Done);
    }

    /// <summary>
    /// The kept statement of <paramref name="sql"/>, taken for one run; a one-off when the kept one is still being read
    /// (a read inside another's rows); null when the text holds several statements (those run as before, through
    /// Microsoft.Data.Sqlite).
    /// </summary>
    private RowStatement? Take(string sql)
    {
        var db = Handle ?? throw new InvalidOperationException("the connection is not open");
        if (!_rowStatements.TryGetValue(sql, out var statement) || statement.InUse)
        {
            if (_compound.Contains(sql))
            {
                return null;
            }
            var kept = statement is null;
            if (kept && _rowStatements.Count + _compound.Count >= Capacity)
            {
                ForgetAll();
            }
            if (Prepare(db, sql) is not { } prepared)
            {
                _compound.Add(sql);
                return null;
            }
            statement = new RowStatement(prepared) { OneOff = !kept };
            if (kept)
            {
                Prepares++;
                onPrepare?.Invoke();
                _rowStatements[sql] = statement;
            }
        }
        statement.InUse = true;
        return statement;
    }

    /// <summary>The first statement of <paramref name="sql"/>, prepared; null when another follows it.</summary>
    private static sqlite3_stmt? Prepare(sqlite3 db, string sql)
    {
        sqlite3_stmt statement = null!;
        var tail = "";
        // Preparing reads the schema, which may meet a lock too.
        var rc = SqliteRowReader.WhileBusy(() => raw.sqlite3_prepare_v2(db, sql, out statement, out tail));
        SqliteException.ThrowExceptionForRC(rc, db);
        if (!string.IsNullOrWhiteSpace(tail))
        {
            statement.Dispose();
            return null;
        }
        return statement;
    }

    /// <summary>
    /// Binds what Dapper put in <paramref name="parameters"/> to <paramref name="statement"/>, by name, as
    /// Microsoft.Data.Sqlite would; false, with nothing left bound that matters, when a value is of a type bound only
    /// there, a parameter of the SQL has no value (Microsoft.Data.Sqlite then says which), or the SQL has unnamed ones.
    /// </summary>
    private static bool TryBind(RowStatement statement, DbParameterCollection parameters)
    {
        // Dapper adds a text's parameters in the same order on every call: which SQL parameter each one is, is found
        // once and then only checked (Microsoft.Data.Sqlite looked each name up in SQLite on every run).
        if (statement.Order is not { } order || order.Length != parameters.Count || !InOrder(statement.Names, order, parameters))
        {
            if (Order(statement.Names, parameters) is not { } found)
            {
                return false;
            }
            statement.Order = order = found;
        }
        for (var j = 0; j < order.Length; j++)
        {
            if (order[j] > 0 && !(parameters[j] is SqliteParameter { Direction: ParameterDirection.Input } p
                                  && !Truncated(p)
                                  && TryBindValue(statement.Statement, order[j], p.Value)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether Microsoft.Data.Sqlite would cut the value to the parameter's size (Dapper's sizes never do).</summary>
    private static bool Truncated(SqliteParameter p) =>
        p.Size > 0 && p.Value switch { string text => text.Length > p.Size, byte[] bytes => bytes.Length > p.Size, _ => false };

    private static bool InOrder(string?[] names, int[] order, DbParameterCollection parameters)
    {
        for (var j = 0; j < order.Length; j++)
        {
            if (order[j] > 0 && !NameOf(parameters[j]).SequenceEqual(names[order[j] - 1]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>For each of <paramref name="parameters"/>, the SQL parameter it is (1-based; 0: none); null unless every SQL parameter has one.</summary>
    private static int[]? Order(string?[] names, DbParameterCollection parameters)
    {
        var order = new int[parameters.Count];
        for (var j = 0; j < order.Length; j++)
        {
            order[j] = Array.FindIndex(names, n => n is not null && NameOf(parameters[j]).SequenceEqual(n)) + 1;
        }
        return order.Where(i => i > 0).Distinct().Count() == names.Length ? order : null;
    }

    /// <summary>A parameter's name as the SQL's, without its prefix: Dapper gives none; one given by hand may have one.</summary>
    private static ReadOnlySpan<char> NameOf(DbParameter parameter) => parameter.ParameterName.AsSpan().TrimStart("@:$");

    /// <summary>Microsoft.Data.Sqlite's text for a decimal (its SqliteValueBinder), so a value reads back the same either way.</summary>
    private const string DecimalText = "0.0###########################";

    /// <summary>
    /// Binds <paramref name="value"/> as Microsoft.Data.Sqlite binds a value of its type; false for the types whose
    /// binding depends on more than the value (dates, GUIDs, enums, characters), which are left to it.
    /// </summary>
    private static bool TryBindValue(sqlite3_stmt statement, int index, object? value)
    {
        var rc = value switch
        {
            null or DBNull => raw.sqlite3_bind_null(statement, index),
            string text => raw.sqlite3_bind_text(statement, index, text),
            long number => raw.sqlite3_bind_int64(statement, index, number),
            int number => raw.sqlite3_bind_int64(statement, index, number),
            short number => raw.sqlite3_bind_int64(statement, index, number),
            byte number => raw.sqlite3_bind_int64(statement, index, number),
            bool flag => raw.sqlite3_bind_int64(statement, index, flag ? 1 : 0),
            double number when !double.IsNaN(number) => raw.sqlite3_bind_double(statement, index, number),
            decimal number => raw.sqlite3_bind_text(statement, index, number.ToString(DecimalText, CultureInfo.InvariantCulture)),
            byte[] bytes => raw.sqlite3_bind_blob(statement, index, bytes),
            _ => -1,
        };
        if (rc > 0)
        {
            throw new SqliteException($"binding parameter {index} failed", rc);
        }
        return rc == 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ForgetAll();
        }
        base.Dispose(disposing);
    }

    private int ExecuteNonQuery(ReusingCommand command)
    {
        if (Native(command) is not { } rows)
        {
            return Bind(command).Command.ExecuteNonQuery();
        }
        using (rows)
        {
            while (rows.Read())
            {
            }
            return rows.RecordsAffected;
        }
    }

    private object? ExecuteScalar(ReusingCommand command)
    {
        if (Native(command) is not { } rows)
        {
            return Bind(command).Command.ExecuteScalar();
        }
        using (rows)
        {
            return rows.Read() ? rows.GetValue(0) : null;
        }
    }

    /// <summary>
    /// The command run straight on its kept statement, when it is one statement and its values bind here: the writes
    /// and scalars Dapper runs, which Microsoft.Data.Sqlite bound by looking each name up anew (with the reference
    /// counting of every native call, 2.7 % of the load harness's server CPU). Null when it is left to
    /// Microsoft.Data.Sqlite.
    /// </summary>
    private SqliteRowReader? Native(ReusingCommand command)
    {
        // Microsoft.Data.Sqlite refuses a command meant for no transaction, or another, while one is open: so does it.
        if (command.Transaction != Transaction)
        {
            return null;
        }
        if (Take(command.CommandText) is not { } statement)
        {
            return null;
        }
        try
        {
            if (TryBind(statement, command.Parameters))
            {
                BoundHere++;
                return new SqliteRowReader(Handle!, statement.Statement, statement.Done);
            }
        }
        catch
        {
            statement.Done();
            throw;
        }
        statement.Done();
        return null;
    }

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
        _compound.Clear();
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

        /// <summary>Its parameters' names, without the prefix, by index less one; null for an unnamed one.</summary>
        public string?[] Names { get; } = Enumerable.Range(1, raw.sqlite3_bind_parameter_count(statement))
            .Select(i => raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string()?[1..]).ToArray();

        /// <summary>For the parameters of the last command run on it, in their order, the SQL parameter each is (<see cref="TryBind"/>).</summary>
        public int[]? Order { get; set; }

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
