using System.Data;
using Dapper;

namespace Baton.Storage;

/// <summary>How much the database takes, for the <c>baton_database_size_bytes</c> gauge (issue 14, retention).</summary>
public static class DatabaseSize
{
    /// <summary>
    /// SQLite: the main file (its pages, free ones included: what the disk holds; the WAL, checkpointed back into it,
    /// is not counted). PostgreSQL: the whole database, tables, indexes and TOAST (<c>pg_database_size</c>).
    /// </summary>
    public static Task<long> BytesAsync(IDbConnection c) =>
        c.ExecuteScalarAsync<long>(SqlDialect.Of(c).SingleWriter
            ? "SELECT (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size())"
            : "SELECT pg_database_size(current_database())");
}
