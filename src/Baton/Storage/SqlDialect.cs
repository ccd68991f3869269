using System.Data.Common;

namespace Baton.Storage;

/// <summary>
/// The SQL that differs between the databases Baton can run on, in one place (ADR 23). Every other statement is
/// written once, in SQL that SQLite and PostgreSQL both accept (<c>ON CONFLICT … DO UPDATE</c>, <c>RETURNING</c>,
/// multi-row <c>VALUES</c>, <c>COALESCE</c>, <c>CASE</c>, integer Unix-millisecond times), and sits in its table's
/// store. Only SQLite is implemented; the PostgreSQL backend (issue 11) adds a second instance.
/// </summary>
public abstract class SqlDialect
{
    public static readonly SqlDialect Sqlite = new SqliteDialect();

    /// <summary>
    /// What ends the sub-select that picks a job to claim. SQLite has one writer, so nothing can race the claim; with
    /// several writers it is <c>FOR UPDATE SKIP LOCKED</c>, and the claim repeats its lease condition in the update.
    /// </summary>
    public abstract string SkipLocked { get; }

    /// <summary>Whether an error comes from the database at all (as opposed to a bug in the caller).</summary>
    public abstract bool IsDatabaseError(Exception ex);

    private sealed class SqliteDialect : SqlDialect
    {
        public override string SkipLocked => "";

        public override bool IsDatabaseError(Exception ex) => ex is DbException;
    }
}
