using System.Data;
using System.Text.Json;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// The append-only event log, and the one owner of the `events` table's SQL. Events are written in the transaction of
/// the change they record. Log lines are events too (type `log`, see <see cref="RunLogs"/>), so they stream live with
/// every other event under the same resumable cursor.
/// </summary>
public static class EventLog
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>A row of `events`; its seq is the id a stream sends and resumes from.</summary>
    public sealed class EventRow
    {
        public long Seq { get; set; }
        public string RunId { get; set; } = "";
        public string Type { get; set; } = "";
        public string? Phase { get; set; }
        public int? Iteration { get; set; }
        public string? Actor { get; set; }
        public string? Data { get; set; }
        public long CreatedAt { get; set; }
    }

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string runId, RunEvent e, DateTimeOffset now) =>
        c.ExecuteAsync(
            "INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at) VALUES (@runId, @Type, @Phase, @Iteration, @Actor, @data, @now)",
            new { runId, e.Type, e.Phase, e.Iteration, e.Actor, data = e.Data is null ? null : JsonSerializer.Serialize(e.Data, Json), now = now.ToUnixTimeMilliseconds() },
            tx);

    /// <summary>The newest event's seq (0 when there is none): where a stream of what happens from now on starts.</summary>
    public static Task<long> LastSeqAsync(IDbConnection c, IDbTransaction? tx) =>
        c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(seq), 0) FROM events", transaction: tx);

    /// <summary>The newest event's seq of one run (0 when there is none).</summary>
    public static Task<long> LastSeqOfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = @runId", new { runId }, tx);

    /// <summary>Every event after <paramref name="after"/>, log lines included, oldest first: what the node's feed holds.</summary>
    public static Task<IEnumerable<EventRow>> AllAfterAsync(IDbConnection c, IDbTransaction? tx, long after, int limit) =>
        c.QueryAsync<EventRow>("SELECT * FROM events WHERE seq > @after ORDER BY seq LIMIT @limit", new { after, limit }, tx);

    /// <summary>A run's events after <paramref name="after"/>; with no run, every run's events but log lines.</summary>
    public static Task<IEnumerable<EventRow>> AfterAsync(IDbConnection c, IDbTransaction? tx, string? runId, long after, int limit) =>
        c.QueryAsync<EventRow>(
            runId is null
                ? "SELECT * FROM events WHERE seq > @after AND type <> 'log' ORDER BY seq LIMIT @limit"
                : "SELECT * FROM events WHERE run_id = @runId AND seq > @after ORDER BY seq LIMIT @limit",
            new { runId, after, limit }, tx);

    /// <summary>A run's gate events, oldest first: what the phase timeline draws its waits from.</summary>
    public static Task<IEnumerable<EventRow>> GateEventsAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.QueryAsync<EventRow>(
            "SELECT * FROM events WHERE run_id = @runId AND type IN ('gate.opened', 'gate.approved', 'gate.rejected', 'gate.expired') ORDER BY seq",
            new { runId }, tx);

    /// <summary>Up to <paramref name="take"/> of a run's events but log lines, newest first, before the event <paramref name="before"/> if given.</summary>
    public static async Task<List<EventRow>> NewestFirstAsync(IDbConnection c, IDbTransaction? tx, string runId, long? before, int take) =>
        (await c.QueryAsync<EventRow>(
            "SELECT * FROM events WHERE run_id = @runId AND type <> 'log' AND (@before IS NULL OR seq < @before) ORDER BY seq DESC LIMIT @take",
            new { runId, before, take }, tx)).ToList();

    /// <summary>A run's gate and budget approvals and its gate rejections.</summary>
    public static Task<(long Approvals, long Rejections)> DecisionsOfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.QuerySingleAsync<(long Approvals, long Rejections)>(
            """
            SELECT COALESCE(SUM(CASE WHEN type IN ('gate.approved', 'budget.approved') THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN type = 'gate.rejected' THEN 1 ELSE 0 END), 0)
            FROM events WHERE run_id = @runId AND type IN ('gate.approved', 'budget.approved', 'gate.rejected')
            """, new { runId }, tx);

    /// <summary>Every run's gate and budget approvals and gate rejections, for the metrics endpoint.</summary>
    public static Task<(long Approvals, long Rejections)> DecisionsAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QuerySingleAsync<(long Approvals, long Rejections)>(
            "SELECT (SELECT COUNT(*) FROM events WHERE type IN ('gate.approved', 'budget.approved')), (SELECT COUNT(*) FROM events WHERE type = 'gate.rejected')",
            transaction: tx);

    // ---- log lines: events of type `log` ({level, message}) of their run or standalone execution ----

    // The three reads use ix_events_run_type (run_id, type, seq); DashboardQueryPlanTests checks the plans.
    internal const string LogPageSql = """
        SELECT seq, created_at, phase, iteration, json_extract(data, '$.level'), json_extract(data, '$.message')
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq LIMIT @lines
        """;

    internal const string LogTailSql = """
        SELECT seq, created_at, phase, iteration, json_extract(data, '$.level'), json_extract(data, '$.message')
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq DESC LIMIT @lines
        """;

    internal const string AttemptLogSql = """
        SELECT seq, created_at, phase, iteration, json_extract(data, '$.level'), json_extract(data, '$.message')
        FROM events
        WHERE run_id = @RunId AND type = 'log' AND phase = @Phase AND iteration = @Iteration AND created_at >= @from AND created_at <= @to
        ORDER BY seq DESC LIMIT @LogLines
        """;

    public static Task AppendLogsAsync(IDbConnection c, IDbTransaction tx, string ownerId, string? phase, int? iteration, string level, IEnumerable<string> messages, DateTimeOffset now) =>
        c.ExecuteAsync(
            "INSERT INTO events(run_id, type, phase, iteration, data, created_at) VALUES (@ownerId, 'log', @phase, @iteration, @data, @now)",
            messages.Select(message => new { ownerId, phase, iteration, data = JsonSerializer.Serialize(new { level, message }), now = now.ToMs() }), tx);

    /// <summary>Up to <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first: a page of the whole log.</summary>
    public static async Task<List<Client.LogLine>> LogPageAsync(IDbConnection c, IDbTransaction? tx, string ownerId, int lines, long after) =>
        ToLines(await c.QueryAsync<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)>(LogPageSql, new { ownerId, lines, after }, tx));

    /// <summary>The last <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first.</summary>
    public static async Task<List<Client.LogLine>> LogTailAsync(IDbConnection c, IDbTransaction? tx, string ownerId, int lines, long after) =>
        ToLines((await c.QueryAsync<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)>(LogTailSql, new { ownerId, lines, after }, tx)).Reverse());

    /// <summary>The last <paramref name="lines"/> log lines of a run's phase and iteration between two times, oldest first: one attempt's log.</summary>
    public static async Task<List<Client.LogLine>> AttemptLogAsync(
        IDbConnection c, IDbTransaction? tx, string runId, string? phase, int? iteration, long fromMs, long toMs, int lines) =>
        ToLines((await c.QueryAsync<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)>(AttemptLogSql,
            new { RunId = runId, Phase = phase, Iteration = iteration, from = fromMs, to = toMs, LogLines = lines }, tx)).Reverse());

    private static List<Client.LogLine> ToLines(IEnumerable<(long Seq, long CreatedAt, string? Phase, long? Iteration, string Level, string Message)> rows) =>
        rows.Select(r => new Client.LogLine(r.Seq, Times.FromMs(r.CreatedAt), r.Phase, (int?)r.Iteration, r.Level, r.Message)).ToList();
}
