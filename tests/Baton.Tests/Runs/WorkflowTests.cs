using System.Net;
using System.Text.Json;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Runs;

/// <summary>Whole runs through the API: every built-in profile, gates, loops, manual mode, cancel, retry, budget.</summary>
public class WorkflowTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _client = factory.Client();

    [Fact]
    public async Task Software_delivery_stops_at_the_design_gate_and_completes_when_approved()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("software_delivery", "# Dark mode\nUsers want a dark theme.", "web"));
        var gate = await _client.WaitForGateAsync(run.RunId, "design", 1);
        Assert.Equal(["discovery", "design"], gate.StepTimestamps.Keys);
        Assert.Equal("pending", gate.Phases.Single(p => p.Name == "design").Approval!.Status);

        await _client.ApproveAsync(run.RunId, "looks right");
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.All(done.Phases, p => Assert.Equal("completed", p.Status));
        Assert.NotNull(done.CompletedAt);

        var names = (await _client.ListArtifactsAsync(run.RunId)).Phases.SelectMany(p => p.Artifacts).Select(a => a.Name);
        Assert.Equal(["prd.md", "tech_spec.md", "implementation_plan.md", "test_report.md", "documentation.md"], names);
        Assert.Contains("Dark mode", await _client.GetArtifactAsync(run.RunId, "prd.md"), StringComparison.Ordinal);
        var metrics = await _client.GetMetricsAsync(run.RunId);
        Assert.Equal((5, 1, 0), (metrics.Executions, metrics.Approvals, metrics.Rejections));
    }

    [Fact]
    public async Task Planning_rail_exports_a_json_pack_a_summary_and_a_diagram()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("planning_rail", "Mission: \"route\" parcels by drone", "drones"));
        await _client.WaitForStatusAsync(run.RunId, "completed");
        using var pack = JsonDocument.Parse(await _client.GetArtifactAsync(run.RunId, "architecture_pack.json"));
        Assert.Equal(run.RunId, pack.RootElement.GetProperty("run_id").GetString());
        Assert.Equal("Mission: \"route\" parcels by drone", pack.RootElement.GetProperty("mission").GetString());
        Assert.Equal(["intake_analysis.md", "plan.md"], pack.RootElement.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("drones", await _client.GetArtifactAsync(run.RunId, "summary.md"), StringComparison.Ordinal);
        Assert.StartsWith("flowchart LR", await _client.GetArtifactAsync(run.RunId, "diagram.mmd"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejection_produces_iteration_2_artifacts_and_keeps_iteration_1()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("pm_architect_engineer_qa", "Build a URL shortener"));
        await _client.WaitForGateAsync(run.RunId, "architect", 1);
        var first = await _client.GetArtifactAsync(run.RunId, "requirements.md");

        var rejected = await _client.RejectAsync(run.RunId, "Requirements must cover custom aliases.", "pm");
        Assert.Equal(2, rejected.Iteration);
        await _client.WaitForGateAsync(run.RunId, "architect", 2);

        var second = await _client.GetArtifactAsync(run.RunId, "requirements.md", iteration: 2);
        Assert.Contains("Requirements must cover custom aliases.", second, StringComparison.Ordinal);
        Assert.Equal(first, await _client.GetArtifactAsync(run.RunId, "requirements.md", iteration: 1));
        Assert.DoesNotContain("custom aliases", first, StringComparison.Ordinal);
        Assert.Equal(second, await _client.GetArtifactAsync(run.RunId, "requirements.md"));

        await _client.ApproveAsync(run.RunId);
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        var architect = done.Phases.Where(p => p.Name == "architect").ToList();
        Assert.Equal([("rejected", 1), ("approved", 2)], architect.Select(p => (p.Approval!.Status, p.Iteration)));
        Assert.Equal("Requirements must cover custom aliases.", architect[0].Approval!.Comment);

        var manifest = await _client.ListArtifactsAsync(run.RunId);
        Assert.Equal([("pm", 1), ("architect", 1), ("pm", 2), ("architect", 2), ("engineer", 2), ("qa", 2)], manifest.Phases.Select(p => (p.Phase, p.Iteration)));
        var metrics = await _client.GetMetricsAsync(run.RunId);
        Assert.Equal((2, 1, 1, 6), (metrics.Iterations, metrics.Approvals, metrics.Rejections, metrics.Executions));
    }

    [Fact]
    public async Task Rejections_beyond_max_iterations_fail_the_run()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        await _client.RejectAsync(run.RunId, "no");
        await _client.WaitForGateAsync(run.RunId, "draft", 2);
        var failed = await _client.RejectAsync(run.RunId, "still no");
        Assert.Equal("failed", failed.Status);
        Assert.Contains("max_iterations (2)", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_check_loops_back_and_the_next_iteration_passes()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("loop", "x"));
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(2, done.Iteration);
        var verify1 = done.Phases.Single(p => p is { Name: "verify", Iteration: 1 });
        Assert.Equal("failed", verify1.Status);
        Assert.Contains("does not contain \"iteration 2\"", verify1.Error, StringComparison.Ordinal);
        Assert.Contains("does not contain", done.Phases.Single(p => p is { Name: "build", Iteration: 2 }).Feedback, StringComparison.Ordinal);
        Assert.Contains("iteration 1", await _client.GetArtifactAsync(run.RunId, "report.md", iteration: 1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Manual_mode_waits_for_next_and_skip_validation_is_for_approvers_and_recorded()
    {
        var op = await factory.ClientAsAsync("operator");
        var approver = await factory.ClientAsAsync("approver");
        var run = await op.CreateRunAsync(new CreateRunRequest("stepwise", "x"));
        var paused = await _client.WaitForStatusAsync(run.RunId, "paused");
        Assert.Equal(("first", "manual"), (paused.CurrentPhase, paused.WaitingFor));

        await op.NextAsync(run.RunId);
        var checks = await _client.WaitForAsync(run.RunId, r => r.WaitingFor == "checks_failed", "paused on failed checks");
        Assert.Equal("second", checks.CurrentPhase);
        Assert.Contains("never there", checks.Error, StringComparison.Ordinal);

        var forbidden = await Assert.ThrowsAsync<BatonApiException>(() => op.NextAsync(run.RunId, skipValidation: true));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        await approver.NextAsync(run.RunId, skipValidation: true);
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal("test-approver", done.Phases.Single(p => p.Name == "second").ValidationSkippedBy);

        var events = await _client.EventsOfAsync(run.RunId);
        Assert.Contains(events, e => e.Type == "validation.skipped" && e.Actor == "test-approver");
    }

    [Fact]
    public async Task Cancel_at_a_gate_cancels_the_open_phase_and_later_decisions_are_409()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        var cancelled = await _client.CancelAsync(run.RunId, "wrong intake");
        Assert.Equal("cancelled", cancelled.Status);
        Assert.Equal("cancelled", cancelled.Phases.Single(p => p.Name == "draft").Status);
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => _client.ApproveAsync(run.RunId));
        Assert.Equal("cancelled", ex.CurrentStatus);
        var jobs = await factory.Service<Database>().ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE run_id = @RunId", run));
        Assert.Equal(0, jobs);
    }

    [Fact]
    public async Task Concurrent_approve_and_cancel_on_the_same_gate_one_wins_and_the_log_shows_one_decision()
    {
        var approver = await factory.ClientAsAsync("approver");
        for (var round = 0; round < 5; round++)
        {
            var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
            var gate = await _client.WaitForGateAsync(run.RunId, "draft", 1);
            var approve = Outcome(() => approver.ApproveAsync(run.RunId, expectedVersion: gate.Version));
            var cancel = Outcome(() => _client.CancelAsync(run.RunId, expectedVersion: gate.Version));
            var results = await Task.WhenAll(approve, cancel);
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], results.Order());

            var decisions = (await _client.EventsOfAsync(run.RunId))
                .Where(e => e.Type is "gate.approved" or "gate.rejected" or "run.cancelled").Select(e => e.Type).ToList();
            Assert.Single(decisions);
            Assert.Equal(results[0] == HttpStatusCode.OK ? "gate.approved" : "run.cancelled", decisions[0]);
        }

        static async Task<HttpStatusCode> Outcome(Func<Task> action)
        {
            try
            {
                await action();
                return HttpStatusCode.OK;
            }
            catch (BatonApiException ex)
            {
                return ex.Status;
            }
        }
    }

    [Fact]
    public async Task Without_if_match_a_cancel_that_lands_first_makes_the_approve_409()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        await _client.CancelAsync(run.RunId);
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => _client.ApproveAsync(run.RunId));
        Assert.Equal((HttpStatusCode.Conflict, "cancelled"), (ex.Status, ex.CurrentStatus));
    }

    [Fact]
    public async Task Retry_resumes_a_failed_run_at_the_failed_phase_in_a_new_iteration()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        await _client.RejectAsync(run.RunId, "no");
        await _client.WaitForGateAsync(run.RunId, "draft", 2);
        var failed = await _client.RejectAsync(run.RunId, "no again");
        Assert.Equal("failed", failed.Status);

        var retried = await _client.RetryAsync(run.RunId);
        Assert.Equal(("draft", 3), (retried.CurrentPhase, retried.Iteration));
        await _client.WaitForGateAsync(run.RunId, "draft", 3);
        await _client.ApproveAsync(run.RunId);
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(3, done.Phases.Count(p => p.Name == "draft"));
    }

    [Fact]
    public async Task The_budget_stops_the_run_before_a_phase_that_would_exceed_it_until_approved()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("stepwise", "x", BudgetUsd: 0.50m));
        await _client.WaitForStatusAsync(run.RunId, "paused");
        // Spend as a paid agent would have: $0.40 on the first phase, so the next is expected to cost as much.
        await factory.Service<Database>().WriteAsync((c, tx) => c.ExecuteAsync(
            "UPDATE executions SET cost_usd = 0.40 WHERE run_id = @RunId; UPDATE runs SET cost_usd = 0.40 WHERE id = @RunId;", run, tx));

        var stopped = await _client.NextAsync(run.RunId);
        Assert.Equal(("awaiting_approval", "budget", "second"), (stopped.Status, stopped.WaitingFor, stopped.CurrentPhase));
        var reject = await Assert.ThrowsAsync<BatonApiException>(() => _client.RejectAsync(run.RunId, "too expensive"));
        Assert.Equal(HttpStatusCode.Conflict, reject.Status);

        var approved = await _client.ApproveAsync(run.RunId, "spend it");
        Assert.Equal("running", approved.Status);
        await _client.WaitForAsync(run.RunId, r => r.WaitingFor == "checks_failed", "at the second phase's checks");
        Assert.Equal(1, (await _client.GetMetricsAsync(run.RunId)).Approvals);
    }
}

public sealed class CancelRunningTests : IDisposable
{
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string> { ["slow"] = TestProfiles.Slow("60s") });

    [Fact]
    public async Task Cancel_stops_the_running_phase_itself_and_records_the_execution_as_cancelled()
    {
        var client = _factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("slow", "x"));
        await client.WaitForAsync(run.RunId, r => r.Phases[0].Status == "running", "running its first phase");
        var running = _factory.Service<Baton.Engine.RunningExecutions>();
        Assert.True(running.IsRunning(run.RunId));

        var cancelled = await client.CancelAsync(run.RunId, "not needed");
        Assert.Equal("cancelled", cancelled.Status);
        Assert.False(running.IsRunning(run.RunId));
        Assert.Equal("cancelled", cancelled.Phases[0].Status);
        var executions = await _factory.Service<Database>().ReadAsync(c => c.QueryAsync<(string Status, string? Error)>(
            "SELECT status, error_message FROM executions WHERE run_id = @RunId", run));
        Assert.Equal(("cancelled", "run cancelled"), Assert.Single(executions));
        Assert.Empty((await client.ListArtifactsAsync(run.RunId)).Phases);
    }

    [Fact]
    public async Task A_cancel_refused_for_a_stale_version_leaves_the_work_running()
    {
        var client = _factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("slow", "x"));
        var running = await client.WaitForAsync(run.RunId, r => r.Phases[0].Status == "running", "running its first phase");
        var stale = await Assert.ThrowsAsync<BatonApiException>(() => client.CancelAsync(run.RunId, expectedVersion: running.Version - 1));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, stale.Status);
        Assert.True(_factory.Service<Baton.Engine.RunningExecutions>().IsRunning(run.RunId));
        Assert.Equal("running", (await client.GetRunAsync(run.RunId)).Phases[0].Status);
        Assert.Equal("cancelled", (await client.CancelAsync(run.RunId, expectedVersion: running.Version)).Status);
    }

    public void Dispose() => _factory.Dispose();
}
