using System.Data;
using System.Text;
using System.Text.Json;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// The events of one transaction, appended as they happen and written together, in order, at its end: one statement
/// for up to <see cref="RowsPerStatement"/> rows. A phase hand-off appends five or more (log lines, artifacts, the
/// transition's events, the next phase's start), which were as many statements.
/// </summary>
public sealed class EventBatch
{
    /// <summary>7 parameters a row: far below SQLite's (32,766) and PostgreSQL's (65,535) limits.</summary>
    private const int RowsPerStatement = 50;

    private static readonly string[] Statements = Enumerable.Range(0, RowsPerStatement + 1).Select(InsertOf).ToArray();

    private readonly List<(string RunId, string Type, string? Phase, int? Iteration, string? Actor, string? Data, long At)> _rows = [];

    public void Add(string runId, RunEvent e, DateTimeOffset now) =>
        _rows.Add((runId, e.Type, e.Phase, e.Iteration, e.Actor, e.Data is null ? null : JsonSerializer.Serialize(e.Data, EventLog.Json), now.ToMs()));

    /// <summary>A log line of a run's phase (or of a standalone execution, <paramref name="ownerId"/>).</summary>
    public void AddLog(string ownerId, string? phase, int? iteration, string level, string message, DateTimeOffset now) =>
        _rows.Add((ownerId, RunLogs.EventType, phase, iteration, null, JsonSerializer.Serialize(new { level, message }), now.ToMs()));

    public async Task WriteAsync(IDbConnection c, IDbTransaction tx)
    {
        for (var start = 0; start < _rows.Count; start += RowsPerStatement)
        {
            var count = Math.Min(RowsPerStatement, _rows.Count - start);
            var parameters = new DynamicParameters();
            for (var i = 0; i < count; i++)
            {
                var row = _rows[start + i];
                parameters.Add($"r{i}", row.RunId);
                parameters.Add($"t{i}", row.Type);
                parameters.Add($"p{i}", row.Phase);
                parameters.Add($"i{i}", row.Iteration);
                parameters.Add($"a{i}", row.Actor);
                parameters.Add($"d{i}", row.Data);
                parameters.Add($"c{i}", row.At);
            }
            await c.ExecuteAsync(Statements[count], parameters, tx);
        }
        _rows.Clear();
    }

    private static string InsertOf(int rows)
    {
        var sql = new StringBuilder("INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at) VALUES ");
        for (var i = 0; i < rows; i++)
        {
            sql.Append(i == 0 ? "" : ", ").Append($"(@r{i}, @t{i}, @p{i}, @i{i}, @a{i}, @d{i}, @c{i})");
        }
        return sql.ToString();
    }
}
