using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

/// <summary>Command workers as runs use them: real processes, real git repositories, real process trees.</summary>
public sealed class CommandWorkerTests : IDisposable
{
    private const string SecretValue = "s3cret-value-for-the-agent";
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();
    private readonly BatonClient _client;

    public CommandWorkerTests()
    {
        _client = _factory.Client();
        Environment.SetEnvironmentVariable("BATON_TEST_AGENT_SECRET", SecretValue);
    }

    private async Task<RunDetail> StartAsync(string script, IReadOnlyList<string>? extraArgs = null, string produces = "[]", string extra = "", string? timeout = null)
    {
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        await _client.CreateWorkerAsync(new CreateWorkerRequest(name, "command", [_repo.ScriptPath(script), .. extraArgs ?? []],
            Env: new Dictionary<string, string> { ["AGENT_MODE"] = "test" },
            SecretEnv: new Dictionary<string, string> { ["AGENT_TOKEN"] = "BATON_TEST_AGENT_SECRET" }, Timeout: timeout));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var profile = "p" + name;
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", profile + ".yaml"), $"""
            name: {profile}
            phases:
              - name: work
                worker: {name}
                prompt: "{"{{intake}}"}"
                produces: {produces}
                max_attempts: 1
            {extra}
            """);
        return await _client.CreateRunAsync(new CreateRunRequest(profile, "do the work", RepositoryId: repo.RepositoryId));
    }

    [Fact]
    public async Task Log_lines_arrive_on_the_event_stream_while_the_process_still_runs()
    {
        var run = await StartAsync("talk-then-wait.sh");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in _client.StreamRunEventsAsync(run.RunId, ct: timeout.Token))
        {
            if (e.Type == "log" && e.Data!.Value.GetProperty("message").GetString() == "first line from the agent")
            {
                break;
            }
            Assert.NotEqual("phase.completed", e.Type);
        }
        // Only now may the agent finish: the line above was seen while it was still running.
        var execution = Assert.Single(Directory.GetDirectories(Path.Combine(_factory.WorkDir, "executions")));
        File.WriteAllText(Path.Combine(execution, "go"), "");
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Contains((await _client.GetLogsAsync(done.RunId)).Lines, l => l.Message == "second line");
    }

    [Fact]
    public async Task Cancel_kills_the_whole_process_tree_within_two_seconds()
    {
        var run = await StartAsync("tree.sh");
        await _client.WaitForAsync(run.RunId, r => r.Phases[0].Status == "running", "running");
        await WaitForFileAsync("parent.pid");
        await WaitForFileAsync("child.pid");
        // Its tree: bwrap, the sandbox's init, the script and its SIGTERM-ignoring child (and their sleeps).
        await AgentProcesses.CancelKillsTheTreeWithinTwoSecondsAsync(_client, run.RunId);
    }

    [Fact]
    public async Task A_timeout_kills_the_process_and_fails_with_a_clear_message()
    {
        // Long enough for the sandbox and the script to start on a loaded machine (at 3 s a CI run timed out before the
        // script's first line): the process must have been running for its kill to mean anything.
        var run = await StartAsync("tree.sh", timeout: "8s");
        var failed = await _client.WaitForStatusAsync(run.RunId, "failed");
        Assert.Contains("timed out after 8s", failed.Error, StringComparison.Ordinal);
        Assert.Contains((await _client.GetLogsAsync(run.RunId)).Lines, l => l.Message == "started tree");
        Assert.Empty(AgentProcesses.Of(run.RunId));
    }

    [Fact]
    public async Task The_agent_gets_an_explicit_environment_without_baton_secrets()
    {
        var run = await StartAsync("env.sh");
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var env = (await _client.GetLogsAsync(run.RunId, 500)).Lines.Select(l => l.Message).ToList();
        Assert.Contains("AGENT_MODE=test", env);
        // The program had the value; its log has the mask in its place (ADR 40), which only a known secret gets.
        Assert.Contains($"AGENT_TOKEN={Baton.Ops.Redactor.Mask}", env);
        Assert.DoesNotContain(env, l => l.Contains(SecretValue, StringComparison.Ordinal));
        Assert.Contains($"BATON_RUN_ID={run.RunId}", env);
        Assert.Contains(env, l => l.StartsWith("PATH=", StringComparison.Ordinal));
        Assert.DoesNotContain(env, l => l.StartsWith("BATON_ADMIN_TOKEN", StringComparison.Ordinal));
        Assert.DoesNotContain(env, l => l.StartsWith("BATON_TEST_AGENT_SECRET", StringComparison.Ordinal));
        Assert.DoesNotContain(env, l => l.Contains(BatonFactory.AdminToken, StringComparison.Ordinal));
        var worker = (await _client.ListWorkersAsync()).Workers.Single();
        Assert.DoesNotContain(SecretValue, System.Text.Json.JsonSerializer.Serialize(worker), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shell_syntax_in_a_prompt_is_passed_as_one_literal_argument()
    {
        var marker = Path.Combine(_repo.Root, "pwned");
        var intake = $"; touch {marker} && rm -rf / $(touch {marker}) `touch {marker}` | cat";
        var name = "argv" + Guid.NewGuid().ToString("N")[..6];
        await _client.CreateWorkerAsync(new CreateWorkerRequest(name, "command", [_repo.ScriptPath("args.sh"), "{{prompt}}", "--phase={{phase}}"]));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", name + ".yaml"),
            $"name: {name}\nphases:\n  - name: work\n    worker: {name}\n    prompt: \"{{{{intake}}}}\"\n");
        var run = await _client.CreateRunAsync(new CreateRunRequest(name, intake));
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var args = File.ReadAllLines(Directory.GetFiles(Path.Combine(_factory.WorkDir, "executions"), "args.txt", SearchOption.AllDirectories).Single());
        Assert.Equal([intake, "--phase=work"], args);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_prompt_starting_with_a_dash_and_holding_placeholders_arrives_literally()
    {
        var intake = "--dangerously-skip-permissions {{workspace}} {{artifacts_dir}} {{prompt}}";
        var name = "dash" + Guid.NewGuid().ToString("N")[..6];
        await _client.CreateWorkerAsync(new CreateWorkerRequest(name, "command", [_repo.ScriptPath("args.sh"), "--", "{{prompt}}", "{{phase}}"]));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", name + ".yaml"),
            $"name: {name}\nphases:\n  - name: work\n    worker: {name}\n    prompt: \"{{{{intake}}}}\"\n");
        var run = await _client.CreateRunAsync(new CreateRunRequest(name, intake));
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var args = File.ReadAllLines(Directory.GetFiles(Path.Combine(_factory.WorkDir, "executions"), "args.txt", SearchOption.AllDirectories).Single());
        Assert.Equal(["--", intake, "work"], args);
    }

    [Fact]
    public async Task A_failing_agent_fails_the_phase_with_its_exit_code_and_last_error_line()
    {
        var run = await StartAsync("fail.sh");
        var failed = await _client.WaitForStatusAsync(run.RunId, "failed");
        Assert.Contains("fail.sh exited with code 3: about to fail", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_agent_fails_the_phase_with_the_tail_of_its_stderr()
    {
        File.WriteAllText(_repo.ScriptPath("noisy-fail.sh"), """
            #!/bin/sh
            for i in $(seq 1 15); do echo "stderr line $i" >&2; echo "stdout line $i"; done
            exit 2
            """ + "\n");
        File.SetUnixFileMode(_repo.ScriptPath("noisy-fail.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var run = await StartAsync("noisy-fail.sh");
        var failed = await _client.WaitForStatusAsync(run.RunId, "failed");
        Assert.Contains("noisy-fail.sh exited with code 2: stderr line 6\nstderr line 7", failed.Error, StringComparison.Ordinal);
        Assert.EndsWith("stderr line 15", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("stderr line 5\n", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("stdout", failed.Error, StringComparison.Ordinal);
    }

    private async Task<string> WaitForFileAsync(string name)
    {
        var root = Path.Combine(_factory.WorkDir, "executions");
        string? path = null;
        await Eventually.TrueAsync(() => Directory.Exists(root) && (path = Directory.GetFiles(root, name, SearchOption.AllDirectories).FirstOrDefault()) is not null
            && new FileInfo(path).Length > 0, $"{name} written", TimeSpan.FromSeconds(20));
        return Path.GetDirectoryName(path)!;
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("BATON_TEST_AGENT_SECRET", null);
        _factory.Dispose();
        _repo.Dispose();
    }
}
