using Baton.Storage;
using Dapper;

namespace Baton.Bench;

/// <summary>What the events table says about a set of runs, read straight from the SQLite file after the server stopped.</summary>
internal sealed record EventFacts(
    long PhasesCompleted,
    int RunsCompleted,
    int RunsFailed,
    long FirstCreatedMs,
    long LastCompletedMs,
    long FirstPhaseStartedMs,
    Distribution Wake,
    Distribution ResumeToDone)
{
    /// <summary>From the first run's creation to the last run's completion, by the server's clock.</summary>
    public double WindowSeconds => (LastCompletedMs - FirstCreatedMs) / 1000.0;

    /// <summary>From the first phase start to the last completion: the engine alone, without the first creates.</summary>
    public double EngineSeconds => (LastCompletedMs - FirstPhaseStartedMs) / 1000.0;

    public static async Task<EventFacts> ReadAsync(string databasePath, IReadOnlyCollection<string> runIds)
    {
        var db = new SqliteDatabase(databasePath);
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("CREATE TEMP TABLE bench_runs(id TEXT PRIMARY KEY)");
        await using (var tx = await c.BeginTransactionAsync())
        {
            await c.ExecuteAsync("INSERT INTO bench_runs(id) VALUES (@id)", runIds.Select(id => new { id }), tx);
            await tx.CommitAsync();
        }

        var runs = await c.QuerySingleAsync<(long Completed, long Failed, long FirstCreated, long? LastCompleted)>(
            """
            SELECT COALESCE(SUM(status = 'completed'), 0), COALESCE(SUM(status = 'failed'), 0), MIN(created_at), MAX(completed_at)
            FROM runs WHERE id IN (SELECT id FROM bench_runs)
            """);
        var events = (await c.QueryAsync<(string RunId, string Type, long CreatedAt)>(
            """
            SELECT run_id, type, created_at FROM events
            WHERE run_id IN (SELECT id FROM bench_runs) AND type IN ('phase.started', 'phase.completed', 'gate.approved', 'run.completed')
            ORDER BY run_id, seq
            """)).ToList();
        return From(runs, events);
    }

    /// <param name="runs">how many of the runs completed and failed, the first creation and the last completion.</param>
    /// <param name="events">their phase.started, phase.completed, gate.approved and run.completed events, by run, in order.</param>
    public static EventFacts From((long Completed, long Failed, long FirstCreated, long? LastCompleted) runs, IReadOnlyList<(string RunId, string Type, long CreatedAt)> events)
    {
        // Wake-up as the event log sees it: phase N's `phase.completed` to phase N+1's `phase.started`, same run. A
        // gated phase is recorded completed only when its gate is approved, right after `gate.approved`: that pair is
        // a resume, not a straight transition, and is left out.
        var wake = new List<double>();
        for (var i = 0; i + 1 < events.Count; i++)
        {
            if (events[i].Type == "phase.completed" && events[i + 1].Type == "phase.started" && events[i + 1].RunId == events[i].RunId
                && !(i > 0 && events[i - 1].Type == "gate.approved" && events[i - 1].RunId == events[i].RunId))
            {
                wake.Add(events[i + 1].CreatedAt - events[i].CreatedAt);
            }
        }
        // Gate resume to completion: the approval's event to the run's completion, as the server recorded them.
        var resume = events.GroupBy(e => e.RunId)
            .Select(run => (Approved: run.LastOrDefault(e => e.Type == "gate.approved"), Completed: run.LastOrDefault(e => e.Type == "run.completed")))
            .Where(r => r.Approved.Type is not null && r.Completed.Type is not null)
            .Select(r => (double)(r.Completed.CreatedAt - r.Approved.CreatedAt));
        var started = events.Where(e => e.Type == "phase.started").Select(e => e.CreatedAt).DefaultIfEmpty(0).Min();
        return new EventFacts(
            events.Count(e => e.Type == "phase.completed"), (int)runs.Completed, (int)runs.Failed,
            runs.FirstCreated, runs.LastCompleted ?? runs.FirstCreated, started, Distribution.Of(wake), Distribution.Of(resume));
    }
}
