using System.Globalization;
using System.Text;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Ops;

public static class OpsApi
{
    public static IEndpointRouteBuilder MapOpsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (TimeProvider time) => TypedResults.Ok(new Health("ok", time.GetUtcNow()))).WithTags("Operations").AllowAnonymous();
        app.MapGet("/readyz", ReadyAsync).WithTags("Operations").AllowAnonymous();
        app.MapGet("/metrics", PrometheusAsync).WithTags("Operations").RequireAuthorization(Roles.Viewer);
        return app;
    }

    /// <remarks>The sandbox mode is reported, not judged: a node without bubblewrap still serves everything but command workers.</remarks>
    public static async Task<Results<Ok<Readiness>, JsonHttpResult<Readiness>>> ReadyAsync(Database db, Agents.Sandbox sandbox, TimeProvider time, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var ok = await db.IsReachableAsync(timeout.Token);
        var (mode, _) = await sandbox.StatusAsync();
        var body = new Readiness(ok ? "ok" : "unavailable", ok ? "ok" : "unreachable", time.GetUtcNow(), mode);
        return ok ? TypedResults.Ok(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    public static async Task<ContentHttpResult> PrometheusAsync(Database db, NodeMetrics node)
    {
        var text = new StringBuilder();
        await db.ReadAsync(async c =>
        {
            var counts = await Runs.RunStore.CountsAsync(c, null);
            Header(text, "baton_runs_total", "gauge", "Runs by profile and current status.");
            foreach (var (profile, status, count) in counts)
            {
                text.Append("baton_runs_total{").Append(NodeMetrics.Label("profile", profile)).Append(',').Append(NodeMetrics.Label("status", status)).Append("} ").Append(count).Append('\n');
            }
            var active = counts.Where(r => r.Status is "pending" or "running" or "awaiting_approval" or "paused").Sum(r => r.Count);
            Header(text, "baton_runs_active", "gauge", "Runs not finished yet (pending, running, awaiting approval, paused).");
            text.Append("baton_runs_active ").Append(active).Append('\n');

            var decisions = await Runs.EventLog.DecisionsAsync(c, null);
            Header(text, "baton_approvals_total", "counter", "Gate and budget approvals.");
            text.Append("baton_approvals_total ").Append(decisions.Approvals).Append('\n');
            Header(text, "baton_rejections_total", "counter", "Gate rejections.");
            text.Append("baton_rejections_total ").Append(decisions.Rejections).Append('\n');

            var usage = await Engine.ExecutionStore.UsageTotalsAsync(c, null);
            Header(text, "baton_tokens_total", "counter", "Model tokens used by agents.");
            text.Append("baton_tokens_total{direction=\"in\"} ").Append(usage.TokensIn).Append('\n');
            text.Append("baton_tokens_total{direction=\"out\"} ").Append(usage.TokensOut).Append('\n');
            Header(text, "baton_cost_usd_total", "counter", "Agent cost in US dollars.");
            text.Append("baton_cost_usd_total ").Append(usage.Cost.ToString(CultureInfo.InvariantCulture)).Append('\n');

            var executions = await Engine.ExecutionStore.CountsByStatusAsync(c, null);
            Header(text, "baton_executions_total", "counter", "Agent executions by status.");
            foreach (var (status, count) in executions)
            {
                text.Append("baton_executions_total{").Append(NodeMetrics.Label("status", status)).Append("} ").Append(count).Append('\n');
            }
            return true;
        });
        node.PhaseExecutions.WriteTo(text);
        node.JobClaims.WriteTo(text);
        Header(text, "baton_db_commits_total", "counter", "Write transactions committed by this node; each holds one or more writes.");
        text.Append("baton_db_commits_total ").Append(db.Commits).Append('\n');
        Header(text, "baton_db_writes_total", "counter", "Writes this node committed or rolled back.");
        text.Append("baton_db_writes_total ").Append(db.Writes).Append('\n');
        node.HttpRequests.WriteTo(text);
        return TypedResults.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
}
