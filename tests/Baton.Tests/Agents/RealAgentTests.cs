using System.Text.Json;
using Baton.Agents;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

/// <summary>
/// One scripted model server for the class, and the Baton server variables the ready-made worker files name:
/// ANTHROPIC_BASE_URL and OPENAI_BASE_URL point at it, the keys are fake. Set on this process, which is the Baton
/// server's (the tests of this class run one at a time; no other class reads these variables).
/// </summary>
public sealed class ModelServerFixture : IAsyncLifetime
{
    public ScriptedModelServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ScriptedModelServer.StartAsync();
        Environment.SetEnvironmentVariable("ANTHROPIC_BASE_URL", Server.Address);
        Environment.SetEnvironmentVariable("ANTHROPIC_API_KEY", "sk-ant-scripted-test-key");
        Environment.SetEnvironmentVariable("OPENAI_BASE_URL", Server.Address + "/v1");
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", "sk-scripted-test-key");
    }

    public async Task DisposeAsync()
    {
        foreach (var name in new[] { "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY" })
        {
            Environment.SetEnvironmentVariable(name, null);
        }
        await Server.DisposeAsync();
    }
}

/// <summary>
/// The real programs, Claude Code and Codex (pinned in tools/agents), run by Baton through the worker files in
/// docs/workers exactly as they are, inside the real sandbox, against a model server that plays a script.
/// </summary>
public sealed class RealAgentTests : IClassFixture<ModelServerFixture>, IDisposable
{
    private readonly ScriptedModelServer _model;
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();
    private readonly BatonClient _client;

    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public RealAgentTests(ModelServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
    {
        _output = output;
        _model = fixture.Server;
        var bin = RealAgents.RequireInstalled();
        // The programs are found on the server's PATH, as an admin's `npm install -g` would leave them.
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        if (!path.Split(':').Contains(bin))
        {
            Environment.SetEnvironmentVariable("PATH", bin + ":" + path);
        }
        _factory.Settings["BATON_SANDBOX_RO_PATHS"] = RealAgents.Modules;
        var workers = Path.Combine(_factory.DataDir, "workers");
        Directory.CreateDirectory(workers);
        foreach (var name in new[] { "claude-code", "codex" })
        {
            File.Copy(RealAgents.WorkerFile(name), Path.Combine(workers, name + ".yaml"));
        }
        _client = _factory.Client();
    }

    [Fact]
    public async Task Claude_Code_writes_and_edits_a_file_that_is_committed_and_its_usage_is_what_it_reported()
    {
        var write = new WriteFile("greeting.txt", "hello from claude\n");
        _model.Play(
            ModelTurn.Call(write, inputTokens: 1000, outputTokens: 50),
            ModelTurn.Call(new EditFile("greeting.txt", "hello", "hello, world,"), inputTokens: 1200, outputTokens: 40),
            ModelTurn.Final("Wrote greeting.txt.", inputTokens: 1300, outputTokens: 30));

        var run = await StartAsync("claude-code");
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error + "\n" + await LogTextAsync(run.RunId));

        Assert.Equal("hello, world, from claude\n", _repo.Git("show", $"baton/{run.RunId}:greeting.txt").Replace("\r", "", StringComparison.Ordinal));
        Assert.Contains("greeting.txt", _repo.Git("show", "--stat", "--format=%s", $"baton/{run.RunId}"), StringComparison.Ordinal);
        var diff = await _client.GetArtifactAsync(run.RunId, "implement.diff.patch");
        Assert.Contains("+hello, world, from claude", diff, StringComparison.Ordinal);

        // The program's own report: its result line, as Baton logged it.
        var result = await ResultLineAsync(run.RunId);
        var usage = result.GetProperty("usage");
        var reportedIn = usage.GetProperty("input_tokens").GetInt64() + usage.GetProperty("cache_creation_input_tokens").GetInt64()
            + usage.GetProperty("cache_read_input_tokens").GetInt64();
        var metrics = (await _client.GetMetricsAsync(run.RunId)).Phases.Single(p => p.Phase == "implement");
        Assert.Equal((3500L, 120L), (reportedIn, usage.GetProperty("output_tokens").GetInt64()));
        Assert.Equal((reportedIn, usage.GetProperty("output_tokens").GetInt64()), (metrics.TokensIn, metrics.TokensOut));
        // Claude Code prices the tokens by the model it asked for, in JavaScript doubles (0.016399999999999998); Baton
        // keeps dollars to 1e-10.
        var reportedCost = Math.Round(result.GetProperty("total_cost_usd").GetDecimal(), 10);
        Assert.True(reportedCost > 0);
        Assert.Equal(reportedCost, metrics.CostUsd);
        Assert.Equal(reportedCost, (await _client.GetRunAsync(run.RunId)).CostUsd);
        Assert.Equal(3, _model.Requests.Count);
        Assert.All(_model.Requests, r => Assert.StartsWith("/v1/messages", r.Path, StringComparison.Ordinal));
        Assert.Contains("greeting.txt", _model.Requests[1].ToolResult(write.CallId), StringComparison.Ordinal);
        // Claude Code kept its state in the execution's private HOME, not the server's.
        Assert.Contains(Directory.GetFiles(Path.Combine(_factory.WorkDir, "executions"), ".claude.json", SearchOption.AllDirectories),
            f => Path.GetFileName(Path.GetDirectoryName(f)) == "home");
    }

    [Fact]
    public async Task Codex_applies_a_patch_and_runs_a_command_that_are_committed_and_its_tokens_are_priced_from_the_worker_file()
    {
        var command = new RunCommand("printf 'made by a command\\n' > command.txt && echo exit-ok");
        _model.Play(
            ModelTurn.Call(new ApplyPatch("*** Begin Patch\n*** Add File: greeting.txt\n+hello from codex\n*** End Patch\n"), inputTokens: 1000, outputTokens: 50)
                with { CachedInputTokens = 200 },
            ModelTurn.Call(command, inputTokens: 1200, outputTokens: 40) with { CachedInputTokens = 1000 },
            ModelTurn.FinalFrom(r => "Wrote greeting.txt and command.txt; the command said: " + r.ToolResult(command.CallId)) with { InputTokens = 1300, OutputTokens = 30 });

        var run = await StartAsync("codex");
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error + "\n" + await LogTextAsync(run.RunId));
        await LogTextAsync(run.RunId);

        Assert.Equal("hello from codex\n", _repo.Git("show", $"baton/{run.RunId}:greeting.txt"));
        Assert.Equal("made by a command\n", _repo.Git("show", $"baton/{run.RunId}:command.txt"));
        var diff = await _client.GetArtifactAsync(run.RunId, "implement.diff.patch");
        Assert.Contains("+hello from codex", diff, StringComparison.Ordinal);
        Assert.Contains("+made by a command", diff, StringComparison.Ordinal);
        Assert.All(_model.Requests, r => Assert.Equal("/v1/responses", r.Path));
        Assert.Equal(3, _model.Requests.Count);
        Assert.Equal("gpt-5.5", _model.Requests[0].Json.GetProperty("model").GetString());
        // The command's output went back to the model, and its final text is the execution's summary.
        Assert.Contains("exit-ok", _model.Requests[2].ToolResult(command.CallId), StringComparison.Ordinal);
        Assert.Contains((await _client.GetLogsAsync(run.RunId, 500)).Lines, l => l.Message.Contains("the command said:", StringComparison.Ordinal));

        // What Codex reported: the tokens of each turn.completed, added up; it reports no cost.
        var turns = (await _client.GetLogsAsync(run.RunId, 500)).Lines.Select(l => l.Message)
            .Where(m => m.StartsWith("{\"type\":\"turn.completed\"", StringComparison.Ordinal))
            .Select(m => JsonDocument.Parse(m).RootElement.GetProperty("usage").Clone()).ToList();
        Assert.NotEmpty(turns);
        var (input, cached, output) = (turns.Sum(u => u.GetProperty("input_tokens").GetInt64()),
            turns.Sum(u => u.GetProperty("cached_input_tokens").GetInt64()), turns.Sum(u => u.GetProperty("output_tokens").GetInt64()));
        Assert.Equal((3500L, 1200L, 120L), (input, cached, output));
        var metrics = (await _client.GetMetricsAsync(run.RunId)).Phases.Single(p => p.Phase == "implement");
        Assert.Equal((input, output), (metrics.TokensIn, metrics.TokensOut));
        // docs/workers/codex.yaml: $1.25 per million input tokens, $0.125 cached, $10 output.
        Assert.Equal(((input - cached) * 1.25m + cached * 0.125m + output * 10m) / 1_000_000m, metrics.CostUsd);
        Assert.Equal(0.004225m, metrics.CostUsd);
    }

    [Fact]
    public async Task A_model_error_fails_the_Claude_Code_phase_with_the_programs_own_message()
    {
        _model.Play(ModelTurn.Error(529, "Overloaded (scripted)"));
        var run = await StartAsync("claude-code");
        var failed = await _client.WaitForStatusAsync(run.RunId, "failed");
        // Claude Code's result says is_error (its subtype may still say success): its text is the phase's error.
        Assert.Contains("claude exited with code 1: API Error: 529 Overloaded (scripted)", failed.Error, StringComparison.Ordinal);
        Assert.Single(_model.Requests);
    }

    [Theory]
    [InlineData("claude-code")]
    [InlineData("codex")]
    public async Task Cancelling_during_a_long_model_pause_kills_the_programs_whole_process_tree_within_two_seconds(string worker)
    {
        _model.Play(ModelTurn.Pause(TimeSpan.FromMinutes(2)));
        var run = await StartAsync(worker);
        await _model.NextRequestAsync(TimeSpan.FromSeconds(30));
        await AgentProcesses.CancelKillsTheTreeWithinTwoSecondsAsync(_client, run.RunId);
    }

    [Fact]
    public async Task Codex_without_prices_has_an_unknown_cost_not_zero_and_a_budget_stops_the_run_on_it()
    {
        // The ready-made file less its prices.
        var unpriced = string.Join('\n', File.ReadAllLines(RealAgents.WorkerFile("codex"))
            .Where(l => !l.Contains("price_per_mtok", StringComparison.Ordinal))
            .Select(l => l == "name: codex" ? "name: codex-unpriced" : l));
        await _client.CreateWorkerAsync(WorkerFiles.Parse(unpriced).Request!);

        _model.Play(ModelTurn.Final("Nothing to change.", inputTokens: 1000, outputTokens: 20));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample-unpriced", _repo.Path));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "unpriced.yaml"), """
            name: unpriced
            phases:
              - name: implement
                worker: codex-unpriced
                max_attempts: 1
              - name: review
                worker: codex-unpriced
                max_attempts: 1
            """);
        var run = await _client.CreateRunAsync(new CreateRunRequest("unpriced", "Look around.", BudgetUsd: 5m, RepositoryId: repo.RepositoryId));
        // $0 of $5 spent, but the spend is not known: the budget stops the run before the second phase.
        var stopped = await _client.WaitForAsync(run.RunId, r => r.Status is "awaiting_approval" or "failed" or "completed", "stopped");
        Assert.Equal(("awaiting_approval", "budget", "review"), (stopped.Status, stopped.WaitingFor, stopped.CurrentPhase));
        Assert.Equal((true, 0m, 1020L), (stopped.CostUnknown, stopped.CostUsd, stopped.TokensUsed));
        var json = await _factory.Http().GetStringAsync($"/api/runs/{run.RunId}");
        Assert.Contains("\"cost_unknown\":true", json, StringComparison.Ordinal);
        var budgetStop = (await _client.EventsUntilAsync(run.RunId, "run.budget_stopped")).Last();
        Assert.True(budgetStop.Data!.Value.GetProperty("cost_unknown").GetBoolean());

        // A standalone execution says null, not 0.
        _model.Play(ModelTurn.Final("Nothing to change.", inputTokens: 1000, outputTokens: 20));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Look around", RepositoryId: repo.RepositoryId));
        var id = (await _client.ExecuteAsync(new ExecuteRequest("codex-unpriced", item.WorkItemId, "Look around."))).ExecutionId;
        var done = await _client.WaitForExecutionEndAsync(id, _factory.Service<Baton.Engine.EngineSignals>());
        Assert.True(done.Status == "success", done.ErrorMessage);
        Assert.Equal((1020L, (decimal?)null), (done.TokensUsed, done.CostUsd));
        Assert.Contains("\"cost_usd\":null", await _factory.Http().GetStringAsync($"/api/agent-runtime/executions/{id}"), StringComparison.Ordinal);

        // The dashboard says unknown, never $0.
        using var browser = await Baton.Tests.Dashboard.Browser.SignedInAsync(_factory, "viewer");
        Assert.Contains("<dt>Cost</dt><dd>unknown</dd>", (await browser.GetAsync($"/executions/{id}")).Html, StringComparison.Ordinal);
        Assert.Contains("<dt>Cost</dt><dd>unknown of $5.00</dd>", (await browser.GetAsync($"/runs/{run.RunId}")).Html, StringComparison.Ordinal);
        // The runs list too, and the run's metrics (API).
        Assert.Matches($"(?s)<tr[^>]*>(?:(?!</tr>).)*{run.RunId}(?:(?!</tr>).)*<td class=\"num\">unknown</td>", (await browser.GetAsync("/")).Html);
        var listed = (await _client.ListRunsAsync(profile: "unpriced")).Runs.Single(r => r.RunId == run.RunId);
        Assert.True(listed.CostUnknown);
        var metrics = await _client.GetMetricsAsync(run.RunId);
        Assert.True(metrics.CostUnknown && metrics.Phases.Single(p => p.Phase == "implement").CostUnknown);
    }

    private async Task<RunDetail> StartAsync(string worker)
    {
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample-" + Guid.NewGuid().ToString("N")[..8], _repo.Path));
        var profile = "real-" + worker;
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", profile + ".yaml"), $"""
            name: {profile}
            phases:
              - name: implement
                worker: {worker}
                max_attempts: 1
            """);
        return await _client.CreateRunAsync(new CreateRunRequest(profile, "Write greeting.txt.", RepositoryId: repo.RepositoryId));
    }

    private async Task<string> LogTextAsync(string runId)
    {
        var text = string.Join('\n', (await _client.GetLogsAsync(runId, 500)).Lines.Select(l => $"[{l.Level}] {l.Message}"));
        _output.WriteLine(text);
        return text;
    }

    private async Task<JsonElement> ResultLineAsync(string runId)
    {
        var line = (await _client.GetLogsAsync(runId, 500)).Lines.Select(l => l.Message)
            .LastOrDefault(m => m.StartsWith('{') && m.Contains("\"type\":\"result\"", StringComparison.Ordinal));
        Assert.True(line is not null, "no result line in the log:\n" + await LogTextAsync(runId));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
