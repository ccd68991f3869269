using Dapper;
using Npgsql;

namespace Baton.Bench;

/// <summary>Wake-up latencies of a set of runs, in milliseconds; each pair is two events of the same run.</summary>
/// <param name="CreateToStart">`run.created` (api node) → the first `phase.started` (a worker node): always across nodes.</param>
/// <param name="ApproveToStart">`gate.approved` (api node) → the next `phase.started` (a worker node): always across nodes.</param>
/// <param name="PhaseToPhaseSameNode">`phase.completed` → the next `phase.started`, both phases run by one node.</param>
/// <param name="PhaseToPhaseOtherNode">the same, the next phase run by another node.</param>
internal sealed record WakeFacts(Distribution CreateToStart, Distribution ApproveToStart, Distribution PhaseToPhaseSameNode, Distribution PhaseToPhaseOtherNode)
{
    /// <summary>The worse of the two wake-ups that always cross from the api node to a worker node.</summary>
    public double CrossNodeP99 => Math.Max(CreateToStart.P99, double.IsNaN(ApproveToStart.P99) ? double.NegativeInfinity : ApproveToStart.P99);
}

/// <summary>
/// What a cluster's PostgreSQL database says about a set of runs, read with Npgsql while the nodes still run (every
/// measured run has finished): the same <see cref="EventFacts"/> as on SQLite, which node ran each phase
/// (executions.node_id), and the wake-ups between nodes.
/// </summary>
/// <param name="Events">the events table's figures, as for SQLite.</param>
/// <param name="PhasesByNode">successful phase executions per BATON_NODE_ID.</param>
/// <param name="SteadyPhasesPerSecond">phases completed per second in the middle 80 % of the engine's window (first
/// phase started → last completed), without the ramp of the first runs and the drain of the last.</param>
/// <param name="Wake">wake-ups from the events table's created_at: the nodes' clocks (corrected to the database's, see
/// DatabaseClock), whole milliseconds.</param>
/// <param name="WakePrecise">wake-ups from <see cref="InstallEventClockAsync"/>'s table: the database server's one clock,
/// in microseconds; null when it was not installed.</param>
internal sealed record ClusterFacts(
    EventFacts Events,
    IReadOnlyDictionary<string, long> PhasesByNode,
    double SteadyPhasesPerSecond,
    WakeFacts Wake,
    WakeFacts? WakePrecise)
{
    private const string EventClockTable = "bench_event_clock";

    private const string WakeTypes = "('run.created', 'phase.started', 'phase.completed', 'gate.approved')";

    /// <summary>One event of a run: its type, phase, and when (ms).</summary>
    private readonly record struct Mark(string RunId, string Type, string? Phase, double AtMs);

    /// <summary>
    /// Stamps every new event the wake-up figures use with clock_timestamp() (microseconds, the database server's
    /// clock) in a table of the bench's own, from a trigger. The events table holds whole milliseconds, stamped by
    /// each node's own clock (corrected to the database's by an offset measured to within a round trip): too coarse
    /// and too shifted between nodes for a p99 that must be under 10 ms. The AFTER trigger runs at the end of the
    /// INSERT, the last statement before COMMIT, so its time is the transaction's commit give or take the COMMIT's
    /// round trip. It costs an INSERT per event, so only the wake-up workload installs it, after the nodes have
    /// migrated the schema.
    /// </summary>
    public static async Task InstallEventClockAsync(string database)
    {
        await using var c = new NpgsqlConnection(database);
        await c.ExecuteAsync($"""
            CREATE TABLE {EventClockTable} (
                n       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                run_id  text NOT NULL,
                type    text NOT NULL,
                phase   text,
                at      timestamptz NOT NULL
            );
            CREATE FUNCTION {EventClockTable}_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {EventClockTable}(run_id, type, phase, at) VALUES (NEW.run_id, NEW.type, NEW.phase, clock_timestamp());
                RETURN NULL;
            END $$;
            CREATE TRIGGER {EventClockTable}_stamp AFTER INSERT ON events
                FOR EACH ROW WHEN (NEW.type IN {WakeTypes}) EXECUTE FUNCTION {EventClockTable}_stamp();
            """);
    }

    public static async Task<ClusterFacts> ReadAsync(string database, IReadOnlyCollection<string> runIds, bool eventClock)
    {
        var ids = runIds.ToArray();
        await using var c = new NpgsqlConnection(database);
        await c.OpenAsync();
        var runs = await c.QuerySingleAsync<(long Completed, long Failed, long FirstCreated, long? LastCompleted)>(
            """
            SELECT COUNT(*) FILTER (WHERE status = 'completed'), COUNT(*) FILTER (WHERE status = 'failed'), MIN(created_at), MAX(completed_at)
            FROM runs WHERE id = ANY(@ids)
            """, new { ids });
        var rows = (await c.QueryAsync<(string RunId, string Type, string? Phase, long CreatedAt)>(
            $"""
            SELECT run_id, type, phase, created_at FROM events
            WHERE run_id = ANY(@ids) AND type IN ('run.created', 'phase.started', 'phase.completed', 'gate.approved', 'run.completed')
            ORDER BY run_id, seq
            """, new { ids })).ToList();
        // A phase retried after a failure has several executions; only the one that succeeded ran the phase to its end.
        var executions = (await c.QueryAsync<(string RunId, string Phase, string? NodeId)>(
            "SELECT run_id, phase, node_id FROM executions WHERE run_id = ANY(@ids) AND status = 'success'", new { ids })).ToList();
        var nodeOf = executions.GroupBy(e => (e.RunId, e.Phase)).ToDictionary(g => g.Key, g => g.Last().NodeId ?? "(none)");

        var events = EventFacts.From(runs, rows.Select(r => (r.RunId, r.Type, r.CreatedAt)).ToList());
        var wake = WakeOf(rows.Where(r => r.Type != "run.completed").Select(r => new Mark(r.RunId, r.Type, r.Phase, r.CreatedAt)).ToList(), nodeOf);
        WakeFacts? precise = null;
        if (eventClock)
        {
            var stamps = (await c.QueryAsync<(string RunId, string Type, string? Phase, double AtMs)>(
                $"""
                SELECT run_id, type, phase, EXTRACT(EPOCH FROM at)::float8 * 1000 FROM {EventClockTable}
                WHERE run_id = ANY(@ids) ORDER BY run_id, n
                """, new { ids })).ToList();
            precise = WakeOf(stamps.Select(s => new Mark(s.RunId, s.Type, s.Phase, s.AtMs)).ToList(), nodeOf);
        }
        var completions = rows.Where(r => r.Type == "phase.completed").Select(r => r.CreatedAt).ToList();
        return new ClusterFacts(
            events,
            executions.GroupBy(e => e.NodeId ?? "(none)").ToDictionary(g => g.Key, g => (long)g.Count()),
            SteadyRate(completions, events.FirstPhaseStartedMs, events.LastCompletedMs),
            wake, precise);
    }

    private static double SteadyRate(IReadOnlyList<long> completions, long from, long to)
    {
        var margin = (to - from) / 10.0;
        var (start, end) = (from + margin, to - margin);
        return end > start ? completions.Count(t => t >= start && t <= end) / ((end - start) / 1000.0) : double.NaN;
    }

    /// <param name="marks">the runs' events, by run and in order.</param>
    /// <param name="nodeOf">which node ran each phase of each run.</param>
    private static WakeFacts WakeOf(IReadOnlyList<Mark> marks, IReadOnlyDictionary<(string, string), string> nodeOf)
    {
        var (create, approve, same, other) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        foreach (var run in marks.GroupBy(m => m.RunId))
        {
            var list = run.ToList();
            Mark? created = null;
            Mark? approved = null;
            for (var i = 0; i < list.Count; i++)
            {
                var m = list[i];
                switch (m.Type)
                {
                    case "run.created":
                        created = m;
                        break;
                    case "gate.approved":
                        approved = m;
                        break;
                    case "phase.started" when created is { } c:
                        create.Add(m.AtMs - c.AtMs);
                        created = null;
                        approved = null;
                        break;
                    case "phase.started" when approved is { } a:
                        // The gated phase is recorded completed right after its approval, in the same transaction:
                        // that pair is the resume, counted here, not a straight phase-to-phase hand-off.
                        approve.Add(m.AtMs - a.AtMs);
                        approved = null;
                        break;
                    case "phase.started" when i > 0 && list[i - 1].Type == "phase.completed" && list[i - 1].Phase is { } done && m.Phase is { } next:
                        var sameNode = nodeOf.TryGetValue((run.Key, done), out var a1) && nodeOf.TryGetValue((run.Key, next), out var b1) && a1 == b1;
                        (sameNode ? same : other).Add(m.AtMs - list[i - 1].AtMs);
                        break;
                }
            }
        }
        return new WakeFacts(Distribution.Of(create), Distribution.Of(approve), Distribution.Of(same), Distribution.Of(other));
    }
}
