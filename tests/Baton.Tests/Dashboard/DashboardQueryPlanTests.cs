using Baton.Runs;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Dashboard;

/// <summary>
/// The dashboard's hot queries use their indexes on a database without ANALYZE statistics (as every Baton database is):
/// a change that loses the index makes the page read every run's log or every execution again, and fails here.
/// </summary>
public sealed class DashboardQueryPlanTests(SqliteApiFactory factory) : IClassFixture<SqliteApiFactory>
{
    private async Task<string> PlanAsync(string sql, object args)
    {
        var rows = await factory.Service<Database>().ReadAsync(c =>
            c.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>("EXPLAIN QUERY PLAN " + sql, args));
        return string.Join("\n", rows.Select(r => r.Detail));
    }

    private static readonly object LogArgs = new { ownerId = "run_x", after = 0L, lines = 200 };

    [Fact]
    public async Task The_log_tail_and_pages_read_one_runs_log_lines_by_index()
    {
        foreach (var sql in new[] { EventLog.LogTailSql, EventLog.LogPageSql })
        {
            var plan = await PlanAsync(sql, LogArgs);
            Assert.Contains("USING INDEX ix_events_run_type (run_id=? AND type=? AND seq>?)", plan, StringComparison.Ordinal);
            Assert.DoesNotContain("TEMP B-TREE", plan, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_attempts_log_reads_its_runs_log_lines_by_index()
    {
        var plan = await PlanAsync(EventLog.AttemptLogSql, new { RunId = "run_x", Phase = "draft", Iteration = 1, from = 0L, to = 1L, LogLines = 500 });
        Assert.Contains("USING INDEX ix_events_run_type (run_id=? AND type=?)", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", plan, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, "ix_executions_created")]
    [InlineData("running", null, "ix_executions_status_created (status=?)")]
    [InlineData(null, "w1", "ix_executions_worker_created (worker=?)")]
    public async Task The_executions_list_walks_an_index_in_order(string? status, string? worker, string index)
    {
        var args = new { status, worker, take = 50, skip = 0 };
        var list = await PlanAsync(Baton.Engine.ExecutionStore.ListSql(status, worker), args);
        Assert.Contains("INDEX " + index, list, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", list, StringComparison.Ordinal);
        if (status is not null || worker is not null)
        {
            var count = await PlanAsync(Baton.Engine.ExecutionStore.CountSql(status, worker), args);
            Assert.Contains("USING COVERING INDEX", count, StringComparison.Ordinal);
        }
    }
}
