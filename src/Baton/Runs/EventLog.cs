using System.Data;
using System.Text.Json;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// The append-only event log, and the one owner of the `events` table's SQL. Events are written in the transaction of
/// the change they record. Log lines are events too (type <see cref="LogType"/>), so they stream live with
/// every other event under the same resumable cursor.
/// </summary>
public static class EventLog
{
    /// <summary>
    /// Log lines are events of this type ({level, message}) of their run or standalone execution: they stream live with
    /// every other event, under the same resumable cursor, and nothing else stores them.
    /// </summary>
    public const string LogType = "log";

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

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string runId, RunEvent e, DateTimeOffset now)
    {
        var batch = new EventBatch();
        batch.Add(runId, e, now);
        return batch.WriteAsync(c, tx);
    }

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

    /// <summary>An event to append, its data serialized.</summary>
    public sealed record NewEvent(string RunId, string Type, string? Phase, int? Iteration, string? Actor, string? Data, long CreatedAt);

    /// <summary>
    /// Up to this many events go in one multi-row statement (a hand-off appends 4 or 5: its log line, artifact, transition and start events). More, and binding that many
    /// named parameters costs more than the statements it saves: a log flush of hundreds of lines runs one prepared
    /// single-row statement per line instead (AgentConfinementTests' 300,000-line agent took 19 s with 50-row
    /// statements, 10 s this way).
    /// </summary>
    private const int RowsPerStatement = 8;

    private static readonly string[] InsertStatements = Enumerable.Range(0, RowsPerStatement + 1).Select(InsertOf).ToArray();

    /// <summary>
    /// The transaction-level advisory lock under which every PostgreSQL transaction takes its event ids ("EVENTS" in
    /// ASCII). It lies above 2^32, so it cannot meet a lock keyed by <c>hashtext(…)</c>, whose keys are 32-bit.
    /// </summary>
    internal const long CommitOrderLock = 0x4556454E5453;

    /// <summary>
    /// Appends events in order, in one statement when they are few. It must be the last statement of its transaction
    /// (ADR 23's <see cref="EventBatch"/> is written last): on PostgreSQL it takes the commit-order lock, held until the COMMIT.
    /// </summary>
    /// <remarks>
    /// Why a lock (issue 11): a stream resumes after the last id it sent, so an id may become visible only after every
    /// smaller one. An identity value taken at insert time is not that: T1 takes 5, T2 takes 6 and commits first, a
    /// reader moves past 6, then T1 commits and its 5 is never read. Under <see cref="CommitOrderLock"/> a transaction
    /// takes its ids only once the previous holder committed, and PostgreSQL releases a transaction's locks after its
    /// commit is durable and visible; so ids follow commit order, stay whole numbers, and are dense but for rollbacks.
    /// (The identity has CACHE 1: a cached block would hand out ids outside the lock's order.) SQLite has one writer,
    /// whose commits are in id order already.
    ///
    /// Why it cannot deadlock: the lock is the last one its transaction takes, and while holding it the transaction
    /// waits on nothing but this INSERT and its COMMIT. The INSERT waits on no row: `events` has no foreign key (one to
    /// runs would take a KEY SHARE lock on the run row, which a run decision holds FOR UPDATE while it waits here), no
    /// unique key but the identity, and no trigger. Holders form a queue, never a cycle.
    ///
    /// Where it breaks: a statement after this one that waits on a row or lock another transaction holds while that
    /// one waits here (a deadlock PostgreSQL breaks after deadlock_timeout, 1 s, by aborting one of them, which is
    /// retried); a foreign key, unique key or trigger added to `events`; an event written by any SQL but this (every
    /// INSERT INTO events is in this file); and a slow client between this statement and its COMMIT (a GC pause, a
    /// far database), which stalls every writer of every node for that long. Every commit that writes events goes
    /// through this one lock, WAL flush included, so commits no longer share flushes: on a busy 2-core machine 8
    /// writers made 3 to 4 times fewer such commits per second than without it (bench/ --event-lock).
    /// </remarks>
    public static async Task AppendManyAsync(IDbConnection c, IDbTransaction tx, IReadOnlyList<NewEvent> events)
    {
        if (!SqlDialect.Of(c).SingleWriter && events.Count > 0)
        {
            // One round trip, the lock and the rows. PostgreSQL takes any number of rows as one statement of arrays:
            // one round trip for a flush of 100,000 log lines, where a statement per line would take one each.
            await c.ExecuteAsync(
                """
                SELECT pg_advisory_xact_lock(@CommitOrderLock);
                INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at)
                SELECT r, t, p, i, a, d::jsonb, c FROM unnest(@r, @t, @p, @i, @a, @d, @c) WITH ORDINALITY AS e(r, t, p, i, a, d, c, n)
                ORDER BY n
                """,
                UnnestParameters(events),
                tx);
            return;
        }
        if (events.Count > RowsPerStatement)
        {
            await c.ExecuteAsync(InsertStatements[1], events.Select(e => new { r0 = e.RunId, t0 = e.Type, p0 = e.Phase, i0 = e.Iteration, a0 = e.Actor, d0 = new JsonParameter(e.Data), c0 = e.CreatedAt }), tx);
            return;
        }
        if (events.Count == 0)
        {
            return;
        }
        var parameters = new DynamicParameters();
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            parameters.Add($"r{i}", e.RunId);
            parameters.Add($"t{i}", e.Type);
            parameters.Add($"p{i}", e.Phase);
            parameters.Add($"i{i}", e.Iteration);
            parameters.Add($"a{i}", e.Actor);
            parameters.Add($"d{i}", new JsonParameter(e.Data));
            parameters.Add($"c{i}", e.CreatedAt);
        }
        await c.ExecuteAsync(InsertStatements[events.Count], parameters, tx);
    }

    /// <summary>The PostgreSQL append's parameters: one array per column (@r … @c) and the commit-order lock's key.</summary>
    internal static object UnnestParameters(IReadOnlyList<NewEvent> events) => new
    {
        CommitOrderLock,
        r = events.Select(e => e.RunId).ToArray(),
        t = events.Select(e => e.Type).ToArray(),
        p = events.Select(e => e.Phase).ToArray(),
        i = events.Select(e => e.Iteration).ToArray(),
        a = events.Select(e => e.Actor).ToArray(),
        d = events.Select(e => JsonParameter.ForPostgres(e.Data)).ToArray(),
        c = events.Select(e => e.CreatedAt).ToArray(),
    };

    private static string InsertOf(int rows) =>
        "INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at) VALUES "
        + string.Join(", ", Enumerable.Range(0, rows).Select(i => $"(@r{i}, @t{i}, @p{i}, @i{i}, @a{i}, @d{i}, @c{i})"));

    // ---- log lines: events of type `log` ({level, message}) of their run or standalone execution ----

    // The three reads use ix_events_run_type (run_id, type, seq); DashboardQueryPlanTests checks the plans.
    internal const string LogPageSql = """
        SELECT seq, created_at, phase, iteration, data
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq LIMIT @lines
        """;

    internal const string LogTailSql = """
        SELECT seq, created_at, phase, iteration, data
        FROM events WHERE run_id = @ownerId AND type = 'log' AND seq > @after ORDER BY seq DESC LIMIT @lines
        """;

    internal const string AttemptLogSql = """
        SELECT seq, created_at, phase, iteration, data
        FROM events
        WHERE run_id = @RunId AND type = 'log' AND phase = @Phase AND iteration = @Iteration AND created_at >= @from AND created_at <= @to
        ORDER BY seq DESC LIMIT @LogLines
        """;

    public static Task AppendLogsAsync(IDbConnection c, IDbTransaction tx, string ownerId, string? phase, int? iteration, string level, IEnumerable<string> messages, DateTimeOffset now)
    {
        var batch = new EventBatch();
        foreach (var message in messages)
        {
            batch.AddLog(ownerId, phase, iteration, level, message, now);
        }
        return batch.WriteAsync(c, tx);
    }

    /// <summary>Up to <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first: a page of the whole log.</summary>
    public static async Task<List<Client.LogLine>> LogPageAsync(IDbConnection c, IDbTransaction? tx, string ownerId, int lines, long after) =>
        ToLines(await c.QueryAsync<LogRow>(LogPageSql, new { ownerId, lines, after }, tx));

    /// <summary>The last <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first.</summary>
    public static async Task<List<Client.LogLine>> LogTailAsync(IDbConnection c, IDbTransaction? tx, string ownerId, int lines, long after) =>
        ToLines((await c.QueryAsync<LogRow>(LogTailSql, new { ownerId, lines, after }, tx)).Reverse());

    /// <summary>The last <paramref name="lines"/> log lines of a run's phase and iteration between two times, oldest first: one attempt's log.</summary>
    public static async Task<List<Client.LogLine>> AttemptLogAsync(
        IDbConnection c, IDbTransaction? tx, string runId, string? phase, int? iteration, long fromMs, long toMs, int lines) =>
        ToLines((await c.QueryAsync<LogRow>(AttemptLogSql,
            new { RunId = runId, Phase = phase, Iteration = iteration, from = fromMs, to = toMs, LogLines = lines }, tx)).Reverse());

    private sealed class LogRow
    {
        public long Seq { get; set; }
        public long CreatedAt { get; set; }
        public string? Phase { get; set; }
        public long? Iteration { get; set; }
        public string Data { get; set; } = "";
    }

    private sealed record LogData(string Level, string Message);

    /// <remarks>The level and message are read from the JSON here rather than in SQL, whose JSON functions differ by database.</remarks>
    private static List<Client.LogLine> ToLines(IEnumerable<LogRow> rows) =>
        rows.Select(r => (Row: r, Data: JsonSerializer.Deserialize<LogData>(r.Data, Json)!))
            .Select(x => new Client.LogLine(x.Row.Seq, Times.FromMs(x.Row.CreatedAt), x.Row.Phase, (int?)x.Row.Iteration, x.Data.Level, x.Data.Message))
            .ToList();
}
