using System.Data.Common;
using System.Globalization;
using System.Text;
using Baton.Storage;
using Dapper;

namespace Baton.Tests.Abuse;

/// <summary>
/// Every row of every table, as text, in a fixed order: two snapshots are equal exactly when no stored value changed.
/// Left out: <c>audit_log</c>, since recording each attempt, refused ones too, is the one write a request is meant to
/// make; and <c>nodes</c>, whose heartbeat a node writes on its own timer, whatever requests come.
/// </summary>
public static class DatabaseSnapshot
{
    public static readonly IReadOnlySet<string> Excluded = new HashSet<string>(StringComparer.Ordinal) { "audit_log", "nodes" };

    public static Task<string> TakeAsync(Database db) => db.ReadAsync(async c =>
    {
        var tables = (await c.QueryAsync<string>(db.Dialect.SingleWriter
                ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"))
            .Where(t => !Excluded.Contains(t))
            .ToList();
        var text = new StringBuilder();
        if (!db.Dialect.SingleWriter)
        {
            // PostgreSQL: one statement for every table (a round trip per table made the corpus twice as slow), each
            // table's rows as row text, sorted.
            var each = string.Join(", ", tables.Select(t => $"(SELECT COALESCE(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\"), '') FROM \"{t}\" r)"));
            await using var all = c.CreateCommand();
            all.CommandText = $"SELECT {each}";
            await using var reader = await all.ExecuteReaderAsync();
            await reader.ReadAsync();
            for (var i = 0; i < tables.Count; i++)
            {
                text.Append("== ").Append(tables[i]).Append('\n').Append(reader.GetString(i)).Append('\n');
            }
            return text.ToString();
        }
        foreach (var table in tables)
        {
            text.Append("== ").Append(table).Append('\n');
            var rows = new List<string>();
            await using (var command = c.CreateCommand())
            {
                command.CommandText = $"SELECT * FROM \"{table}\"";
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add(RowText(reader));
                }
            }
            rows.Sort(StringComparer.Ordinal);
            foreach (var row in rows)
            {
                text.Append(row).Append('\n');
            }
        }
        return text.ToString();
    });

    /// <summary>The first line where two snapshots differ, with its table, for a failure message.</summary>
    public static string FirstDifference(string before, string after)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        var table = "";
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var left = i < a.Length ? a[i] : "(nothing)";
            var right = i < b.Length ? b[i] : "(nothing)";
            if (left.StartsWith("== ", StringComparison.Ordinal))
            {
                table = left[3..];
            }
            if (left != right)
            {
                return $"table {table}: before «{Cut(left)}», after «{Cut(right)}»";
            }
        }
        return "no difference";
    }

    private static string Cut(string s) => s.Length > 300 ? s[..300] + "…" : s;

    private static string RowText(DbDataReader reader)
    {
        var cells = new string[reader.FieldCount];
        for (var i = 0; i < reader.FieldCount; i++)
        {
            cells[i] = reader.IsDBNull(i) ? "NULL" : reader.GetValue(i) switch
            {
                byte[] bytes => "x" + Convert.ToHexString(bytes),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                var v => v.ToString() ?? "",
            };
        }
        return string.Join(" | ", cells);
    }
}
