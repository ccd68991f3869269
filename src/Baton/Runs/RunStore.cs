using System.Text;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Runs;

/// <summary>The read side of runs: list pages, details, metrics, logs, events. Plain SQL on read connections.</summary>
public static class RunStore
{
    public static RunSummary Summary(RunRow r) => new(
        r.Id, r.Profile, r.ProjectName, r.Status, r.CurrentPhase, r.Iteration, r.Mode, r.WaitReason,
        Times.FromMs(r.CreatedAt), Times.FromMs(r.UpdatedAt), (decimal)r.CostUsd, r.TokensUsed);

    public sealed record ListQuery(string? Status, string? Profile, string? Project, int Limit, int Offset);

    public static async Task<RunList> ListAsync(SqliteConnection c, ListQuery q)
    {
        // Only the filters given appear in the SQL, so each query can use its (filter, created_at, id) index.
        var where = new StringBuilder();
        var counts = new StringBuilder();
        if (q.Status is not null)
        {
            where.Append(" AND status = @Status");
            counts.Append(" AND status = @Status");
        }
        if (q.Profile is not null)
        {
            where.Append(" AND profile = @Profile");
            counts.Append(" AND profile = @Profile");
        }
        if (q.Project is not null)
        {
            where.Append(" AND project_name = @Project");
            counts.Append(" AND project_name = @Project");
        }
        // The summary's columns only (the intake is not in this table any more: run_intakes, migration 0011).
        var rows = await c.QueryAsync<RunRow>(
            $"""
            SELECT id, profile, project_name, status, current_phase, iteration, mode, wait_reason, created_at, updated_at, cost_usd, tokens_used
            FROM runs WHERE 1 = 1{where} ORDER BY created_at DESC, id DESC LIMIT @Limit OFFSET @Offset
            """, q);
        var total = await c.ExecuteScalarAsync<long>($"SELECT COALESCE(SUM(count), 0) FROM run_counts WHERE 1 = 1{counts}", q);
        return new RunList(rows.Select(Summary).ToList(), total, q.Limit, q.Offset);
    }

    private sealed class PhaseRunRow
    {
        public string Phase { get; set; } = "";
        public int Iteration { get; set; }
        public int Position { get; set; }
        public string Status { get; set; } = "";
        public int Attempts { get; set; }
        public string? Feedback { get; set; }
        public string? Error { get; set; }
        public long? StartedAt { get; set; }
        public long? CompletedAt { get; set; }
        public string? GateStatus { get; set; }
        public string? GateActor { get; set; }
        public string? GateComment { get; set; }
        public long? GateDecidedAt { get; set; }
        public long? GateDeadline { get; set; }
        public string? ValidationSkippedBy { get; set; }
    }

    public static async Task<RunDetail> DetailAsync(SqliteConnection c, RunRow run, Profile profile)
    {
        var rows = (await c.QueryAsync<PhaseRunRow>(
            "SELECT * FROM phase_runs WHERE run_id = @Id ORDER BY iteration, position", run)).ToList();
        var phases = rows.Select(p => new PhaseInfo(
            p.Phase, p.Status, p.Iteration, p.Attempts, Times.FromMs(p.StartedAt), Times.FromMs(p.CompletedAt),
            p.StartedAt is { } s && p.CompletedAt is { } e ? e - s : null,
            p.Error, p.Feedback, p.ValidationSkippedBy,
            p.GateStatus is null ? null : new Approval(p.GateStatus, p.GateActor, p.GateComment, Times.FromMs(p.GateDecidedAt), Times.FromMs(p.GateDeadline))))
            .ToList();
        // Phases not reached yet are shown as pending in the current iteration, so the list is the whole plan.
        if (!run.RunStatus.IsTerminal())
        {
            foreach (var phase in profile.Phases.Where(ph => rows.All(r => r.Phase != ph.Name)))
            {
                phases.Add(new PhaseInfo(phase.Name, "pending", run.Iteration, 0, null, null, null, null, null, null, null));
            }
        }
        var steps = rows.Where(r => r.StartedAt is not null)
            .GroupBy(r => r.Phase)
            .OrderBy(g => g.Min(r => r.StartedAt))
            .ToDictionary(g => g.Key, g => Times.FromMs(g.Min(r => r.StartedAt!.Value)));
        var intake = await RunIntakes.ReadAsync(c, null, run.Id);
        return new RunDetail(
            run.Id, run.Profile, run.ProjectName, run.Status, run.CurrentPhase, run.Iteration, run.Mode, run.WaitReason,
            Times.FromMs(run.CreatedAt), Times.FromMs(run.UpdatedAt), (decimal)run.CostUsd, run.TokensUsed,
            intake, run.Error, run.BudgetUsd is { } b ? (decimal)b : null, run.CreatedBy, Times.FromMs(run.CompletedAt),
            run.Version, phases, steps);
    }

    public static async Task<ArtifactManifest> ArtifactsAsync(SqliteConnection c, RunRow run, Profile profile)
    {
        var rows = await c.QueryAsync<Artifacts.ArtifactRow>("SELECT * FROM artifacts WHERE run_id = @Id", run);
        var groups = rows
            .GroupBy(a => (a.Phase, a.Iteration))
            .OrderBy(g => g.Key.Iteration).ThenBy(g => profile.IndexOf(g.Key.Phase))
            .Select(g => new ArtifactGroup(g.Key.Phase, g.Key.Iteration, g
                .OrderBy(a => a.Name, StringComparer.Ordinal)
                .Select(a => new ArtifactInfo(a.Name, a.Phase, a.Iteration, a.Size, a.Sha256, a.MediaType, Times.FromMs(a.CreatedAt)))
                .ToList()))
            .ToList();
        return new ArtifactManifest(run.Id, groups);
    }

    private sealed class PhaseTotals
    {
        public string Phase { get; set; } = "";
        public int Iterations { get; set; }
        public int Executions { get; set; }
        public long TokensIn { get; set; }
        public long TokensOut { get; set; }
        public double CostUsd { get; set; }
        public long DurationMs { get; set; }
        public int ToolCalls { get; set; }
        public int TestsRun { get; set; }
        public int TestsPassed { get; set; }
    }

    public static async Task<RunMetrics> MetricsAsync(SqliteConnection c, RunRow run, Profile profile)
    {
        var totals = (await c.QueryAsync<PhaseTotals>(
            """
            SELECT phase, COUNT(DISTINCT iteration) AS iterations, COUNT(*) AS executions,
                   SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, SUM(cost_usd) AS cost_usd,
                   COALESCE(SUM(duration_ms), 0) AS duration_ms, SUM(tool_calls) AS tool_calls,
                   COALESCE(SUM(tests_run), 0) AS tests_run, COALESCE(SUM(tests_passed), 0) AS tests_passed
            FROM executions WHERE run_id = @Id GROUP BY phase
            """, run)).ToList();
        var phases = totals
            .OrderBy(t => profile.IndexOf(t.Phase))
            .Select(t => new PhaseMetrics(t.Phase, t.Iterations, t.Executions, t.TokensIn, t.TokensOut, (decimal)t.CostUsd,
                t.DurationMs, t.ToolCalls, t.TestsRun, t.TestsPassed))
            .ToList();
        var decisions = await EventLog.DecisionsOfRunAsync(c, null, run.Id);
        var end = run.CompletedAt ?? run.UpdatedAt;
        return new RunMetrics(
            run.Id,
            phases.Sum(p => p.TokensIn), phases.Sum(p => p.TokensOut), run.TokensUsed, (decimal)run.CostUsd,
            end - run.CreatedAt,
            phases.Sum(p => p.Executions), phases.Sum(p => p.ToolCalls), phases.Sum(p => p.TestsRun), phases.Sum(p => p.TestsPassed),
            run.Iteration, (int)decisions.Approvals, (int)decisions.Rejections, phases);
    }
}
