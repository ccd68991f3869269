using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;
using Baton.ToolApprovals;

namespace Baton.Tests.Runs;

/// <summary>
/// Bad input to the tool-approval endpoints (ADR 31): the approver's decision and the agent's side, each a clear
/// problem, never a 500. The happy paths run the real Claude Code (Agents/ToolApprovalTests).
/// </summary>
public class ToolApprovalsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _client = factory.Client();

    [Fact]
    public async Task Deciding_an_unknown_run_or_approval_is_404()
    {
        var run = await _client.WaitForStatusAsync((await _client.CreateRunAsync(new CreateRunRequest("straight", "x"))).RunId, "completed");
        Assert.Equal([], run.ToolApprovals);
        using var http = factory.Http();

        var noRun = await http.PostAsJsonAsync("/api/runs/run_nope/tool-approvals/tap_nope", new { decision = "allow" });
        Assert.Contains("no run 'run_nope'", (await ProblemAsync(noRun, HttpStatusCode.NotFound)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        var noApproval = await http.PostAsJsonAsync($"/api/runs/{run.RunId}/tool-approvals/tap_nope", new { decision = "deny", message = "no" });
        Assert.Contains("no tool approval 'tap_nope'", (await ProblemAsync(noApproval, HttpStatusCode.NotFound)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}", "decision")]
    [InlineData("{\"decision\":\"maybe\"}", "decision")]
    [InlineData("{\"decision\":\"ALLOW\"}", "decision")]
    [InlineData("{\"decision\":null,\"message\":\"x\"}", "decision")]
    [InlineData("oversized", "message")]
    public async Task A_bad_decision_or_an_oversized_message_is_400(string body, string field)
    {
        if (body == "oversized")
        {
            body = JsonSerializer.Serialize(new { decision = "deny", message = new string('m', ToolApprovalsApi.MaxMessageChars + 1) });
        }
        using var http = factory.Http();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var response = await http.PostAsync("/api/runs/run_x/tool-approvals/tap_x", content);
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Only_an_approver_decides()
    {
        var operatorClient = await factory.ClientAsAsync("operator");
        var refused = await Assert.ThrowsAsync<BatonApiException>(() =>
            operatorClient.DecideToolApprovalAsync("run_x", "tap_x", new ToolApprovalDecision("allow")));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("approver", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agents_side_takes_only_its_executions_own_key()
    {
        var keys = factory.Service<AgentKeys>();
        var path = "/api/agent-runtime/executions/exe_one/tool-approvals";
        var body = new { tool_name = "Bash", input = new { command = "ls" } };
        foreach (var key in new string?[] { null, BatonFactory.AdminToken, keys.For("exe_other"), "bex_not-a-key", AgentKeys.Prefix })
        {
            using var agent = Agent(key);
            await ProblemAsync(await agent.PostAsJsonAsync(path, body), HttpStatusCode.Unauthorized);
            await ProblemAsync(await agent.GetAsync(path + "/tap_x?wait=0"), HttpStatusCode.Unauthorized);
        }
        // The right key, for an execution that is not running a phase: nothing to ask for.
        using var own = Agent(keys.For("exe_one"));
        await ProblemAsync(await own.PostAsJsonAsync(path, body), HttpStatusCode.Conflict);
        await ProblemAsync(await own.GetAsync(path + "/tap_x?wait=0"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{}", "tool_name")]
    [InlineData("{\"tool_name\":\"\"}", "tool_name")]
    [InlineData("{\"tool_name\":\"Bash\",\"input\":\"ls\"}", "input")]
    [InlineData("{\"tool_name\":\"Bash\",\"input\":[1]}", "input")]
    [InlineData("long-name", "tool_name")]
    [InlineData("long-use-id", "tool_use_id")]
    public async Task Bad_requests_from_an_agent_are_400(string body, string field)
    {
        body = body switch
        {
            "long-name" => JsonSerializer.Serialize(new { tool_name = new string('B', 129) }),
            "long-use-id" => JsonSerializer.Serialize(new { tool_name = "Bash", tool_use_id = new string('t', 129) }),
            _ => body,
        };
        using var agent = Agent(factory.Service<AgentKeys>().For("exe_one"));
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var problem = await ProblemAsync(await agent.PostAsync("/api/agent-runtime/executions/exe_one/tool-approvals", content), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task An_oversized_input_is_413_and_a_bad_wait_is_400()
    {
        using var agent = Agent(factory.Service<AgentKeys>().For("exe_one"));
        var path = "/api/agent-runtime/executions/exe_one/tool-approvals";
        await ProblemAsync(await agent.PostAsJsonAsync(path, new { tool_name = "Write", input = new { content = new string('x', ToolApprovalsApi.MaxInputBytes) } }),
            HttpStatusCode.RequestEntityTooLarge);
        foreach (var wait in new[] { "61", "-1", "abc", "1e3", "" })
        {
            await ProblemAsync(await agent.GetAsync($"{path}/tap_x?wait={wait}"), HttpStatusCode.BadRequest);
        }
    }

    private HttpClient Agent(string? key)
    {
        var http = factory.Http(null);
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return http;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        return body;
    }
}
