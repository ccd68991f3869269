using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// The `run_intakes` table: each run's intake (up to 1 MiB), apart from its `runs` row, which every phase transition
/// reads and rewrites. Read by a run's detail (API, dashboard) and by the input of a phase that names it.
/// </summary>
public static class RunIntakes
{
    public static Task SaveAsync(IDbConnection c, IDbTransaction tx, string runId, string intake) =>
        c.DeferAsync("INSERT INTO run_intakes(run_id, intake) VALUES (@runId, @intake)", new { runId, intake }, tx);

    /// <summary>The run's intake, or "" for a run stored without one.</summary>
    public static async Task<string> ReadAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        await c.QuerySingleOrDefaultAsync<string>(OfRun, new { runId }, tx) ?? "";

    /// <summary>The intake of the run @runId (no row for a run stored without one), for reads that batch it with others.</summary>
    public const string OfRun = "SELECT intake FROM run_intakes WHERE run_id = @runId";
}
