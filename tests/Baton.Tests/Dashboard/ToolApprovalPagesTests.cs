using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using AngleSharp.Html.Parser;
using Baton.Client;
using Baton.Tests.Support;
using Baton.ToolApprovals;

namespace Baton.Tests.Dashboard;

/// <summary>
/// A tool approval on the run's page (ADR 31), and an agent's long wait woken by the decision. The agent here is a
/// script that declares Claude Code's usage (so Baton starts it with the approval options, which it ignores) and
/// waits; the test asks for the approval in its place, with the execution's key, as `baton mcp` would.
/// </summary>
public sealed class ToolApprovalPagesTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();
    private readonly BatonClient _client;

    public ToolApprovalPagesTests()
    {
        // An in-process server has no address of its own to give agents.
        _factory.Settings["BATON_AGENT_URL"] = "http://127.0.0.1:9";
        _client = _factory.Client();
    }

    [Fact]
    public async Task An_approver_denies_from_the_runs_page_and_the_agents_wait_ends_with_the_message()
    {
        var (runId, executionId) = await StartWaitingPhaseAsync("waiter", "claude");
        using var agent = AgentOf(executionId);
        var pending = await AskAsync(agent, executionId, new { tool_name = "Bash", input = new { command = "rm -rf <build>" }, tool_use_id = "toolu_1" });
        Assert.Equal(("pending", "Bash", executionId), (pending.Status, pending.Tool, pending.ExecutionId));
        // The same call asked again is the same request.
        var repeated = await agent.PostAsJsonAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals",
            new { tool_name = "Bash", input = new { command = "rm -rf <build>" }, tool_use_id = "toolu_1" });
        Assert.Equal(pending.Id, (await repeated.Content.ReadFromJsonAsync<ToolApprovalInfo>(BatonJson.Options))!.Id);
        // A tool the phase does not list is refused at once, and shown.
        var unlisted = await agent.PostAsJsonAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals", new { tool_name = "WebFetch", input = new { url = "http://x" } });
        var refused = (await unlisted.Content.ReadFromJsonAsync<ToolApprovalInfo>(BatonJson.Options))!;
        Assert.Equal(("denied", "baton"), (refused.Status, refused.DecidedBy));
        Assert.Contains("not in the phase's tool_approvals (Bash)", refused.Message, StringComparison.Ordinal);

        using var viewer = await Browser.SignedInAsync(_factory, "viewer");
        var seen = await viewer.GetAsync($"/runs/{runId}");
        Assert.Contains("<h2 id=\"tool-approvals-h\">Tool approvals</h2>", seen.Html, StringComparison.Ordinal);
        // The input as the agent gave it, as text: its markup is escaped once, by the page.
        Assert.Contains("rm -rf &lt;build&gt;", seen.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("value=\"deny\"", seen.Html, StringComparison.Ordinal);
        var notAllowed = await viewer.PostAsync($"/runs/{runId}/tool-approvals/{pending.Id}", new Dictionary<string, string> { ["decision"] = "allow" });
        Assert.Equal(HttpStatusCode.Forbidden, notAllowed.Status);

        // The agent waits (long-polls) while the approver decides.
        var waiting = agent.GetFromJsonAsync<ToolApprovalInfo>($"/api/agent-runtime/executions/{executionId}/tool-approvals/{pending.Id}?wait=60", BatonJson.Options);
        using var approver = await Browser.SignedInAsync(_factory, "approver");
        var page = await approver.GetAsync($"/runs/{runId}");
        Assert.Contains($"action=\"/runs/{runId}/tool-approvals/{pending.Id}\"", page.Html, StringComparison.Ordinal);
        var bad = await approver.PostAsync($"/runs/{runId}/tool-approvals/{pending.Id}", new Dictionary<string, string> { ["decision"] = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        var decided = await approver.PostAsync($"/runs/{runId}/tool-approvals/{pending.Id}",
            new Dictionary<string, string> { ["decision"] = "deny", ["message"] = "not the build folder" });
        Assert.Equal((HttpStatusCode.Redirect, $"/runs/{runId}"), (decided.Status, decided.Location));

        var answer = (await waiting)!;
        Assert.Equal(("denied", "not the build folder"), (answer.Status, answer.Message));
        Assert.StartsWith("browser-approver", answer.DecidedBy, StringComparison.Ordinal);
        var again = await approver.PostAsync($"/runs/{runId}/tool-approvals/{pending.Id}", new Dictionary<string, string> { ["decision"] = "allow" });
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Contains("not the build folder", (await approver.GetAsync($"/runs/{runId}")).Html, StringComparison.Ordinal);

        await File.WriteAllTextAsync(Path.Combine(_factory.WorkDir, "executions", executionId, "go"), "");
        await _client.WaitForStatusAsync(runId, "completed");
        // Once the execution has ended, nobody waits: its key asks for nothing more.
        var late = await agent.PostAsJsonAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals", new { tool_name = "Bash", input = new { } });
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
    }

    [Fact]
    public async Task The_same_tool_call_asked_at_once_several_times_is_one_request()
    {
        // On PostgreSQL the requests' transactions overlap: each found no row for the call and inserted one, and all
        // but the first hit the unique index as a 500.
        var (runId, executionId) = await StartWaitingPhaseAsync("waiter", "claude");
        using var agent = AgentOf(executionId);
        var asks = Enumerable.Range(0, 8).Select(_ => agent.PostAsJsonAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals",
            new { tool_name = "Bash", input = new { command = "make" }, tool_use_id = "toolu_same" })).ToList();
        var answers = await Task.WhenAll(asks);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        var ids = await Task.WhenAll(answers.Select(async a => (await a.Content.ReadFromJsonAsync<ToolApprovalInfo>(BatonJson.Options))!.Id));
        Assert.Single(ids.Distinct());
        var run = await _client.GetRunAsync(runId);
        Assert.Equal(ids[0], Assert.Single(run.ToolApprovals!).Id);
        var requested = await _factory.Service<Baton.Storage.Database>().ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<long>(c,
            "SELECT COUNT(*) FROM events WHERE run_id = @runId AND type = 'tool_approval.requested'", new { runId }));
        Assert.Equal(1, requested);
    }

    [Fact]
    public async Task A_request_still_pending_when_its_execution_ends_expires_and_cannot_be_decided()
    {
        var (runId, executionId) = await StartWaitingPhaseAsync("waiter", "claude");
        using var agent = AgentOf(executionId);
        var pending = await AskAsync(agent, executionId, new { tool_name = "Bash", input = new { command = "make deploy" }, tool_use_id = "toolu_left" });
        Assert.Equal(ToolApprovalStatuses.Pending, pending.Status);

        // Nobody decides; the run is cancelled, which ends the execution (its agent is killed).
        await _client.CancelAsync(runId, "not today");
        var cancelled = await _client.WaitForStatusAsync(runId, "cancelled");
        var expired = Assert.Single(cancelled.ToolApprovals!);
        Assert.Equal((pending.Id, ToolApprovalStatuses.Expired), (expired.Id, expired.Status));
        Assert.Equal("the execution ended (cancelled) before anyone decided", expired.Message);
        Assert.Null(expired.DecidedBy);
        Assert.NotNull(expired.DecidedAt);

        // Neither the API nor the page decides it any more, and the agent's key gets a 409 for a wait.
        var refused = await Assert.ThrowsAsync<BatonApiException>(() =>
            _client.DecideToolApprovalAsync(runId, pending.Id, new ToolApprovalDecision("allow")));
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains("has expired: the execution ended (cancelled)", refused.Message, StringComparison.Ordinal);
        var wait = await agent.GetAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals/{pending.Id}?wait=0");
        Assert.Equal(HttpStatusCode.Conflict, wait.StatusCode);
        using var approver = await Browser.SignedInAsync(_factory, "approver");
        var page = new HtmlParser().ParseDocument((await approver.GetAsync($"/runs/{runId}")).Html);
        var row = page.QuerySelector($"#tool-approval-{pending.Id}")!;
        Assert.Null(row.QuerySelector("form"));
        Assert.Equal("expired", row.QuerySelector(".status")!.TextContent);
        Assert.Contains("before anyone decided", row.TextContent, StringComparison.Ordinal);
        var posted = await approver.PostAsync($"/runs/{runId}/tool-approvals/{pending.Id}", new Dictionary<string, string> { ["decision"] = "allow" });
        Assert.Equal(HttpStatusCode.Conflict, posted.Status);
    }

    [Fact]
    public async Task A_worker_that_cannot_ask_fails_the_phase_instead_of_using_the_tools_unasked()
    {
        var run = await StartAsync("plain", usage: null);
        var failed = await _client.WaitForStatusAsync(run, "failed");
        Assert.Contains("tool_approvals (Bash), which only Claude Code workers (usage: claude) support", failed.Error, StringComparison.Ordinal);
    }

    /// <summary>An HTTP client with the execution's own key, as `baton mcp --execution` has.</summary>
    private HttpClient AgentOf(string executionId)
    {
        var agent = _factory.Http(null);
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _factory.Service<AgentKeys>().For(executionId));
        return agent;
    }

    private static async Task<ToolApprovalInfo> AskAsync(HttpClient agent, string executionId, object request)
    {
        var asked = await agent.PostAsJsonAsync($"/api/agent-runtime/executions/{executionId}/tool-approvals", request);
        return (await asked.Content.ReadFromJsonAsync<ToolApprovalInfo>(BatonJson.Options))!;
    }

    private async Task<(string RunId, string ExecutionId)> StartWaitingPhaseAsync(string worker, string? usage)
    {
        var runId = await StartAsync(worker, usage);
        var folder = await ExecutionFolders.WaitForAsync(Path.Combine(_factory.WorkDir, "executions"), "talked", null);
        return (runId, Path.GetFileName(folder));
    }

    private async Task<string> StartAsync(string worker, string? usage)
    {
        await _client.CreateWorkerAsync(new CreateWorkerRequest(worker, "command", [_repo.ScriptPath("talk-then-wait.sh")], Usage: usage));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "guarded.yaml"), $"""
            name: guarded
            phases:
              - name: implement
                worker: {worker}
                max_attempts: 1
                tool_approvals: [Bash]
            """);
        return (await _client.CreateRunAsync(new CreateRunRequest("guarded", "Wait.", RepositoryId: repo.RepositoryId))).RunId;
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
