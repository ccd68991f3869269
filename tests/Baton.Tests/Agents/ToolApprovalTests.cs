using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

/// <summary>
/// Tool approvals end to end (issue 12, ADR 31): the real Claude Code, run by the ready-made worker file on a phase
/// with `tool_approvals: [Bash]`, asks Baton through `baton mcp --execution` (the real CLI, started by Claude Code
/// inside the sandbox) before running a command; a human decides over the API. The Baton server is a real process,
/// since the agent calls it over HTTP.
/// </summary>
public sealed class ToolApprovalTests : IAsyncLifetime
{
    private const string Token = "tool-approval-admin-token-0123456789";
    private readonly SampleRepo _repo = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-approvals-").FullName;
    private readonly Xunit.Abstractions.ITestOutputHelper _output;
    private ScriptedModelServer _model = null!;
    private ServerProcess _server = null!;
    private BatonClient _client = null!;

    public ToolApprovalTests(Xunit.Abstractions.ITestOutputHelper output) => _output = output;

    public async Task InitializeAsync()
    {
        var bin = RealAgents.RequireInstalled();
        _model = await ScriptedModelServer.StartAsync();
        var workers = Directory.CreateDirectory(Path.Combine(_dataDir, "workers")).FullName;
        File.Copy(RealAgents.WorkerFile("claude-code"), Path.Combine(workers, "claude-code.yaml"));
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "guarded.yaml"), """
            name: guarded
            phases:
              - name: implement
                worker: claude-code
                max_attempts: 1
                tool_approvals: [Bash]
            """);
        var cli = RealAgents.Cli();
        _server = await ServerProcess.StartAsync(_dataDir, Token, new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["ANTHROPIC_BASE_URL"] = _model.Address,
            ["ANTHROPIC_API_KEY"] = "sk-ant-scripted-test-key",
            ["BATON_AGENT_CLI"] = cli,
            ["BATON_SANDBOX_RO_PATHS"] = RealAgents.Modules + ":" + Path.GetDirectoryName(cli),
        });
        _client = _server.Client(Token);
    }

    [Fact]
    public async Task An_approved_Bash_command_runs_and_its_effect_is_in_the_phase_commit()
    {
        var command = new RunCommand("echo approved > proof.txt");
        _model.Play(
            ModelTurn.Call(command),
            ModelTurn.FinalFrom(r => "The command said: " + r.ToolResult(command.CallId)));
        var run = await StartAsync();

        var pending = await PendingApprovalAsync(run.RunId);
        Assert.Equal(("Bash", "pending", "implement", 1), (pending.Tool, pending.Status, pending.Phase, pending.Iteration));
        Assert.Equal(command.Command, pending.Input.GetProperty("command").GetString());
        Assert.Null(pending.DecidedAt);
        // The agent is waiting: only its model's first request has been made.
        Assert.Single(_model.Requests);

        // The agent's side takes only the execution's own key, never an API key, and checks what it is given.
        using var agent = new HttpClient { BaseAddress = _server.Url };
        var asked = $"/api/agent-runtime/executions/{pending.ExecutionId}/tool-approvals";
        using (var noKey = await agent.PostAsJsonAsync(asked, new { tool_name = "Bash", input = new { command = "rm -rf /" } }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        }
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using (var adminKey = await agent.GetAsync($"{asked}/{pending.Id}?wait=0"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, adminKey.StatusCode);
        }

        var allowed = await _client.DecideToolApprovalAsync(run.RunId, pending.Id, new ToolApprovalDecision("allow"));
        Assert.Equal(("allowed", "bootstrap-admin"), (allowed.Status, allowed.DecidedBy));
        // Decided once: a second decision is refused.
        var again = await Assert.ThrowsAsync<BatonApiException>(() => _client.DecideToolApprovalAsync(run.RunId, pending.Id, new ToolApprovalDecision("deny")));
        Assert.Equal(HttpStatusCode.Conflict, again.Status);

        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error + "\n" + await LogTextAsync(run.RunId));
        Assert.Equal("approved\n", _repo.Git("show", $"baton/{run.RunId}:proof.txt"));
        Assert.Equal("allowed", done.ToolApprovals!.Single().Status);
        var events = await _client.EventsUntilAsync(run.RunId, "tool_approval.decided");
        Assert.Contains(events, e => e.Type == "tool_approval.requested");
        Assert.Equal("allowed", events[^1].Data!.Value.GetProperty("decision").GetString());
    }

    [Fact]
    public async Task A_denied_Bash_command_leaves_no_file_and_the_agent_is_told_the_approvers_message()
    {
        var command = new RunCommand("echo approved > proof.txt");
        _model.Play(
            ModelTurn.Call(command),
            ModelTurn.FinalFrom(r => "Baton said: " + r.ToolResult(command.CallId)));
        var run = await StartAsync();

        var pending = await PendingApprovalAsync(run.RunId);
        var denied = await _client.DecideToolApprovalAsync(run.RunId, pending.Id, new ToolApprovalDecision("deny", "no shell today, edit the file instead"));
        Assert.Equal("denied", denied.Status);

        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        var log = await LogTextAsync(run.RunId);
        Assert.True(done.Status == "completed", done.Error + "\n" + log);
        Assert.Throws<InvalidOperationException>(() => _repo.Git("show", $"baton/{run.RunId}:proof.txt"));
        Assert.False(File.Exists(Path.Combine(_repo.Path, "proof.txt")));
        // The model's next request carries the denial as the tool's result, and the agent's final text carries it on.
        var result = _model.Requests[1].ToolResult(command.CallId);
        Assert.Contains("no shell today, edit the file instead", result, StringComparison.Ordinal);
        Assert.Contains("Baton said: ", log, StringComparison.Ordinal);
        Assert.Contains("no shell today, edit the file instead", log[log.IndexOf("Baton said: ", StringComparison.Ordinal)..], StringComparison.Ordinal);
        var shown = (await _client.GetRunAsync(run.RunId)).ToolApprovals!.Single();
        Assert.Equal(("denied", "no shell today, edit the file instead"), (shown.Status, shown.Message));
    }

    private async Task<RunDetail> StartAsync()
    {
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        return await _client.CreateRunAsync(new CreateRunRequest("guarded", "Write proof.txt with a command.", RepositoryId: repo.RepositoryId));
    }

    private async Task<ToolApprovalInfo> PendingApprovalAsync(string runId)
    {
        try
        {
            await _client.EventsUntilAsync(runId, "tool_approval.requested");
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"no tool approval was requested: {e.Message}\n{await LogTextAsync(runId)}\n{_server.Output}");
        }
        return (await _client.GetRunAsync(runId)).ToolApprovals!.Single();
    }

    private async Task<string> LogTextAsync(string runId)
    {
        var text = string.Join('\n', (await _client.GetLogsAsync(runId, 500)).Lines.Select(l => $"[{l.Level}] {l.Message}"));
        _output.WriteLine(text);
        return text;
    }

    public async Task DisposeAsync()
    {
        _server?.Dispose();
        await _model.DisposeAsync();
        _repo.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
        if (Directory.Exists(_dataDir + "-work"))
        {
            Directory.Delete(_dataDir + "-work", recursive: true);
        }
    }
}
