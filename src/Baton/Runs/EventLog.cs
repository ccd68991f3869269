using System.Data;
using System.Data.Common;
using System.Text.Json;
using Baton.Client;
using Baton.Storage;
using Dapper;
using Npgsql;

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

        /// <summary>
        /// The event as a stream's <c>data:</c> line, made by the first stream that sends it: the feed hands the same
        /// row to every open stream, and twenty subscribers need not parse and write the same JSON twenty times.
        /// </summary>
        public string StreamJson => _streamJson ??= JsonSerializer.Serialize(EventStream.ToWire(this), BatonJson.Options);

        private string? _streamJson;
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
            "SELECT * FROM events WHERE run_id = @runId AND type IN ('gate.opened', 'gate.approved', 'gate.rejected', 'gate.expired') AND seq IS NOT NULL ORDER BY seq",
            new { runId }, tx);

    /// <summary>Up to <paramref name="take"/> of a run's events but log lines, newest first, before the event <paramref name="before"/> if given.</summary>
    public static async Task<List<EventRow>> NewestFirstAsync(IDbConnection c, IDbTransaction? tx, string runId, long? before, int take) =>
        (await c.QueryAsync<EventRow>(
            "SELECT * FROM events WHERE run_id = @runId AND type <> 'log' AND seq < COALESCE(@before, 9223372036854775807) ORDER BY seq DESC LIMIT @take",
            new { runId, before, take }, tx)).ToList();

    /// <summary>A run's gate and budget approvals and its gate rejections.</summary>
    public static Task<(long Approvals, long Rejections)> DecisionsOfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        c.QuerySingleAsync<(long Approvals, long Rejections)>(
            """
            SELECT COALESCE(SUM(CASE WHEN type IN ('gate.approved', 'budget.approved') THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN type = 'gate.rejected' THEN 1 ELSE 0 END), 0)
            FROM events WHERE run_id = @runId AND type IN ('gate.approved', 'budget.approved', 'gate.rejected')
            """, new { runId }, tx);

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
    /// Appends events in order, in one statement when they are few. On PostgreSQL they have no id yet: the
    /// <see cref="EventSequencer"/> gives them theirs after the commit (<see cref="GiveIdsAsync"/>); until then no
    /// reader sees them. Call <see cref="Engine.EngineSignals.EventsCommitted"/> after the commit.
    /// </summary>
    public static async Task AppendManyAsync(IDbConnection c, IDbTransaction tx, IReadOnlyList<NewEvent> events)
    {
        if (!SqlDialect.Of(c).SingleWriter && events.Count > 0)
        {
            // PostgreSQL takes any number of rows as one statement of arrays: one round trip for a flush of 100,000
            // log lines, where a statement per line would take one each. ORDER BY n: `pos` follows the batch's order.
            await c.DeferAsync(
                """
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
            await c.DeferAsync(InsertStatements[1], events.Select(e => new { r0 = e.RunId, t0 = e.Type, p0 = e.Phase, i0 = e.Iteration, a0 = e.Actor, d0 = new JsonParameter(e.Data), c0 = e.CreatedAt }), tx);
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
        await c.DeferAsync(InsertStatements[events.Count], parameters, tx);
    }

    /// <summary>Whether any committed event still waits for its id (PostgreSQL; the partial index ix_events_unsequenced answers).</summary>
    public static Task<bool> AnyWithoutIdAsync(IDbConnection c) =>
        c.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM events WHERE seq IS NULL)");

    /// <summary>
    /// The transaction-level advisory lock under which one sequencer at a time gives ids ("EVENTS" in ASCII). It lies
    /// above 2^32, so it cannot meet a lock keyed by <c>hashtext(…)</c>, whose keys are 32-bit.
    /// </summary>
    internal const long SequencerLock = 0x4556454E5453;

    /// <summary>
    /// PostgreSQL: gives the committed events that have no id yet the next ids, in the order they were inserted, up to
    /// <paramref name="limit"/> of them; returns how many. <paramref name="c"/> must be outside any transaction: the
    /// lock and the update go in one round trip, which PostgreSQL runs as one implicit transaction (one Sync), so the
    /// lock is held for the update and its commit only, never while a busy client is descheduled between statements.
    /// </summary>
    /// <remarks>
    /// Why after commit (issue 11, ADR 27): a stream resumes after the last id it sent, so an id may become readable
    /// only after every smaller one. An id taken at insert is not that: T1 takes 5, T2 takes 6 and commits first, a
    /// reader moves past 6, then T1 commits and its 5 is never read. Here an event is readable only once it has an
    /// id, and ids are given only to committed events, above every id given before (under <see cref="SequencerLock"/>;
    /// the update's snapshot is taken after the lock, so it sees the last holder's commit): readers never see an id
    /// appear below one they passed. Ids stay whole numbers, dense even across rollbacks. Two transactions of which the
    /// second waited for the first (a run decision behind a hand-off, on the run's row) keep their order: the second
    /// inserts after the first committed, so a pass that sees it sees the first too, with a smaller `pos`.
    ///
    /// The cost is one UPDATE per event, batched: one pass takes everything committed since the last. Before this,
    /// writers took their ids under a lock held through their commit's WAL flush, so commits that wrote events stopped
    /// sharing flushes (3 to 4 times fewer per second, docs/BENCHMARKS.md).
    /// </remarks>
    public static async Task<int> GiveIdsAsync(DbConnection c, int limit)
    {
        await using var pass = new NpgsqlBatch((NpgsqlConnection)c)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock($1)") { Parameters = { new() { Value = SequencerLock } } },
                new NpgsqlBatchCommand(
                    """
                    WITH pending AS (
                        SELECT pos, row_number() OVER (ORDER BY pos) AS n FROM events WHERE seq IS NULL ORDER BY pos LIMIT $1)
                    UPDATE events SET seq = (SELECT COALESCE(MAX(seq), 0) FROM events) + pending.n
                    FROM pending WHERE events.pos = pending.pos
                    """) { Parameters = { new() { Value = limit } } },
            },
        };
        await pass.ExecuteNonQueryAsync();
        return pass.BatchCommands[1].RecordsAffected;
    }

    /// <summary>The PostgreSQL append's parameters: one array per column (@r … @c).</summary>
    internal static object UnnestParameters(IReadOnlyList<NewEvent> events) => new
    {
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
          AND seq IS NOT NULL
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
