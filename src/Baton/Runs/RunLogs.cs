using System.Data;
using System.Text.Json;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// Log lines are events of type `log` ({level, message}) of their run or standalone execution: they stream live
/// with every other event, under the same resumable cursor, and nothing else stores them.
/// </summary>
public static class RunLogs
{
    public const string EventType = "log";

    // Both use ix_events_run_type (run_id, type, seq); a test checks the plan.
    internal const string PageSql = """
        SELECT seq, created_at, phase, iteration, json_extract(data, '$.level'), json_extract(data, '$.message')
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq LIMIT @lines
        """;

    internal const string TailSql = """
        SELECT seq, created_at, phase, iteration, json_extract(data, '$.level'), json_extract(data, '$.message')
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq DESC LIMIT @lines
        """;

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string ownerId, string? phase, int? iteration, string level, IEnumerable<string> messages, DateTimeOffset now) =>
        c.ExecuteAsync(
            "INSERT INTO events(run_id, type, phase, iteration, data, created_at) VALUES (@ownerId, 'log', @phase, @iteration, @data, @now)",
            messages.Select(message => new { ownerId, phase, iteration, data = JsonSerializer.Serialize(new { level, message }), now = now.ToMs() }), tx);

    /// <summary>Up to <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first: a page of the whole log.</summary>
    public static async Task<List<Client.LogLine>> PageAsync(IDbConnection c, string ownerId, int lines, long after)
    {
        var rows = await c.QueryAsync<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)>(
            PageSql,
            new { ownerId, lines, after });
        return rows.Select(r => new Client.LogLine(r.Seq, Times.FromMs(r.CreatedAt), r.Phase, (int?)r.Iteration, r.Level, r.Message)).ToList();
    }

    /// <summary>The last <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first.</summary>
    public static async Task<List<Client.LogLine>> TailAsync(IDbConnection c, string ownerId, int lines, long after = 0)
    {
        var rows = await c.QueryAsync<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)>(
            TailSql,
            new { ownerId, lines, after });
        return rows.Reverse().Select(r => new Client.LogLine(r.Seq, Times.FromMs(r.CreatedAt), r.Phase, (int?)r.Iteration, r.Level, r.Message)).ToList();
    }
}
