using System.Data;
using Dapper;

namespace Baton.Storage;

/// <summary>Reads of many rows and columns, where how each column is read shows in a busy server's CPU.</summary>
internal static class Rows
{
    /// <summary>
    /// A reader over the rows of <paramref name="sql"/>: on SQLite straight from the statement (<see cref="SqliteRowReader"/>),
    /// elsewhere through Dapper. Read it with the typed getters.
    /// </summary>
    public static async Task<IDataReader> ReadAsync(IDbConnection c, IDbTransaction? tx, string sql, IReadOnlyDictionary<string, object?> parameters) =>
        c is PreparedStatementConnection sqlite
            ? sqlite.ExecuteRows(sql, parameters)
            : await c.ExecuteReaderAsync(sql, parameters, tx);

    /// <summary>The text at <paramref name="i"/>, or null where the column is NULL.</summary>
    public static string? GetNullableString(this IDataRecord record, int i) => record.IsDBNull(i) ? null : record.GetString(i);
}
