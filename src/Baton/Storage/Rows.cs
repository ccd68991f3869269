using System.Data;
using System.Data.Common;
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

    /// <summary>
    /// Hands the rows of each of <paramref name="sets"/>' statements (a null one is skipped) to its reader, in turn, read
    /// with the typed getters: on SQLite each straight from its statement (<see cref="SqliteRowReader"/>), where Dapper's
    /// grid reader looked its mapping up by every column's name and type; elsewhere as one batch, one round trip.
    /// </summary>
    public static async Task ReadEachAsync(
        IDbConnection c, IDbTransaction? tx, IReadOnlyDictionary<string, object?> parameters, params (string? Sql, Action<IDataReader> Read)[] sets)
    {
        var batch = sets.Where(s => s.Sql is not null).ToList();
        if (c is PreparedStatementConnection sqlite)
        {
            foreach (var (sql, read) in batch)
            {
                using var rows = sqlite.ExecuteRows(sql!, parameters);
                read(rows);
            }
            return;
        }
        using var reader = (DbDataReader)await c.ExecuteReaderAsync(ReadBatch.Of([.. batch.Select(s => s.Sql)]), parameters, tx);
        for (var i = 0; i < batch.Count; i++)
        {
            if (i > 0 && !await reader.NextResultAsync())
            {
                throw new InvalidOperationException($"the batch gave {i} result sets of {batch.Count}");
            }
            batch[i].Read(reader);
        }
    }

    /// <summary>The text at <paramref name="i"/>, or null where the column is NULL.</summary>
    public static string? GetNullableString(this IDataRecord record, int i) => record.IsDBNull(i) ? null : record.GetString(i);

    /// <summary>The whole number at <paramref name="i"/>, or null where the column is NULL.</summary>
    public static long? GetNullableInt64(this IDataRecord record, int i) => record.IsDBNull(i) ? null : record.GetInt64(i);
}
