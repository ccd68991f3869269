using System.Data.Common;
using Npgsql;

namespace Baton.Storage;

/// <summary>
/// The SQL that differs between the databases Baton can run on, in one place (ADR 23). Every other statement is
/// written once, in SQL that SQLite and PostgreSQL both accept (<c>ON CONFLICT … DO UPDATE</c>, <c>RETURNING</c>,
/// multi-row <c>VALUES</c>, <c>COALESCE</c>, <c>CASE</c>, integer Unix-millisecond times), and sits in its table's
/// store.
/// </summary>
public abstract class SqlDialect
{
    public static readonly SqlDialect Sqlite = new SqliteDialect();

    public static readonly SqlDialect Postgres = new PostgresDialect();

    /// <summary>The dialect of the database <paramref name="connection"/> belongs to: for stores, which get a connection.</summary>
    public static SqlDialect Of(System.Data.IDbConnection connection) => connection is NpgsqlConnection or DeferredWrites.NpgsqlConnection ? Postgres : Sqlite;

    /// <summary>
    /// Whether one writer at a time changes the database (SQLite): then a transaction's reads are its decisions' ground,
    /// and nothing needs locking. With several writers (PostgreSQL, read committed) a decision locks what it reads.
    /// </summary>
    public abstract bool SingleWriter { get; }

    /// <summary>What ends a SELECT whose rows the transaction will decide on and change: <c>FOR UPDATE</c>, or nothing on SQLite.</summary>
    public string ForUpdate => SingleWriter ? "" : " FOR UPDATE";

    /// <summary>A case-insensitive LIKE (the run list's search): SQLite's LIKE ignores ASCII case, PostgreSQL's does not.</summary>
    public abstract string LikeIgnoringCase { get; }

    /// <summary>
    /// <paramref name="column"/> is one of the list <paramref name="parameter"/> holds. Dapper expands <c>IN @list</c>
    /// into one parameter per item on SQLite, but hands Npgsql the list as one array, which needs <c>= ANY(…)</c>.
    /// </summary>
    public abstract string In(string column, string parameter);

    /// <summary>Whether an error comes from the database at all (as opposed to a bug in the caller).</summary>
    public abstract bool IsDatabaseError(Exception ex);

    private sealed class SqliteDialect : SqlDialect
    {
        public override bool SingleWriter => true;

        public override string LikeIgnoringCase => "LIKE";

        public override string In(string column, string parameter) => $"{column} IN {parameter}";

        public override bool IsDatabaseError(Exception ex) => ex is DbException;
    }

    private sealed class PostgresDialect : SqlDialect
    {
        public override bool SingleWriter => false;

        public override string LikeIgnoringCase => "ILIKE";

        public override string In(string column, string parameter) => $"{column} = ANY({parameter})";

        // A lost connection surfaces as NpgsqlException wrapping the socket error, or as a timeout.
        public override bool IsDatabaseError(Exception ex) => ex is DbException or NpgsqlException or TimeoutException;
    }
}
