using Baton.Client;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Engine;

/// <summary>kill -9 of a real server process in the middle of a phase, twice, and the run still finishes right.</summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private const string Token = "crash-test-admin-token-0001";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-crash-").FullName;

    [Fact]
    public async Task A_killed_server_resumes_the_run_without_repeating_finished_phases()
    {
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        // Each kill must land while its phase still runs: the delay is the margin between the phase's start reaching
        // this test through the event stream and the kill, which 1.5 s did not always cover on a busy CI machine.
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "slow.yaml"), TestProfiles.Slow("5s"));

        string runId;
        using (var first = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = first.Client(Token);
            runId = (await client.CreateRunAsync(new CreateRunRequest("slow", "survive a crash"))).RunId;
            await WaitForExecutionAsync(client, runId, "second");
            first.KillHard();
        }

        using (var second = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = second.Client(Token);
            await WaitForExecutionAsync(client, runId, "third");
            second.KillHard();
        }

        using (var third = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = third.Client(Token);
            var run = await client.WaitForStatusAsync(runId, "completed");
            Assert.Equal(["first", "second", "third"], run.Phases.Select(p => p.Name));
            Assert.All(run.Phases, p => Assert.Equal(("completed", 1), (p.Status, p.Iteration)));
            Assert.Equal(["first.md", "second.md", "third.md"], (await client.ListArtifactsAsync(runId)).Phases.SelectMany(p => p.Artifacts).Select(a => a.Name));
            third.KillHard();
        }

        await using var db = await TestDatabase.ConnectAsync(_dataDir);
        var completions = (await db.QueryAsync<(string Phase, long Count)>(
            "SELECT phase, COUNT(*) FROM events WHERE run_id = @runId AND type = 'phase.completed' GROUP BY phase ORDER BY phase", new { runId })).ToList();
        Assert.Equal([("first", 1L), ("second", 1L), ("third", 1L)], completions);

        var executions = (await db.QueryAsync<(string Phase, string Status, string? Error)>(
            "SELECT phase, status, error_message FROM executions WHERE run_id = @runId ORDER BY created_at", new { runId })).ToList();
        Assert.Equal(
            [("first", "success", null), ("second", "error", "worker lost"), ("second", "success", null), ("third", "error", "worker lost"), ("third", "success", null)],
            executions);
        Assert.Equal(2, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE run_id = @runId AND type = 'execution.lost'", new { runId }));
        Assert.Equal(0, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE run_id = @runId", new { runId }));
    }

    /// <summary>Waits on the event stream until the phase's execution has started (and so is mid-flight).</summary>
    private static async Task WaitForExecutionAsync(BatonClient client, string runId, string phase)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            if (e.Type == "phase.started" && e.Phase == phase)
            {
                return;
            }
        }
        throw new Xunit.Sdk.XunitException($"phase {phase} never started");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}

/// <summary>kill -9 of the server while a command agent works: the agent is stopped, the phase runs again in the same workspace.</summary>
public sealed class CommandCrashRecoveryTests : IDisposable
{
    private const string Token = "crash-test-admin-token-0002";
    private readonly SampleRepo _repo = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-crash-cmd-").FullName;

    private string Executions => Path.Combine(_dataDir + "-work", "executions");

    [Fact]
    public async Task An_interrupted_command_execution_is_lost_its_agent_stopped_and_the_phase_rerun_in_the_same_workspace()
    {
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "software_delivery.yaml"), SampleRepo.DeliveryProfile("slow", gate: false));

        string runId;
        IReadOnlyList<int> orphan;
        string firstExecution;
        string workspacePath;
        using (var first = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = first.Client(Token);
            await client.CreateWorkerAsync(new CreateWorkerRequest("slow", "command", [_repo.ScriptPath("slow-implement.sh")]));
            var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", _repo.Path));
            runId = (await client.CreateRunAsync(new CreateRunRequest("software_delivery", "slugify", RepositoryId: repo.RepositoryId))).RunId;
            orphan = await WaitForAgentPidAsync(client, runId);
            firstExecution = await ExecutionFolders.WaitForAsync(Executions, "implementing", except: null);
            workspacePath = Assert.Single((await client.ListWorkspacesAsync()).Workspaces).Path;
            first.KillHard();
        }
        // SIGKILL of the server does not reach the agent: it has its own session and lives on, waiting for a `go` that
        // never comes, so only the next server can end it however long that server takes to start.
        Assert.True(orphan.Count(AgentProcesses.IsAlive) >= 3, $"agent processes: {string.Join(' ', orphan.Select(p => $"{p}:{AgentProcesses.IsAlive(p)}"))}");

        using (var second = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = second.Client(Token);
            File.WriteAllText(Path.Combine(await ExecutionFolders.WaitForAsync(Executions, "implementing", except: firstExecution), "go"), "");
            var run = await client.WaitForStatusAsync(runId, "completed");
            Assert.All(run.Phases, p => Assert.Equal(("completed", 1), (p.Status, p.Iteration)));
            Assert.False(orphan.Any(AgentProcesses.IsAlive), "the orphaned agent was not stopped");
            var workspace = Assert.Single((await client.ListWorkspacesAsync()).Workspaces);
            Assert.Equal(workspacePath, workspace.Path);
            var logs = (await client.GetLogsAsync(runId, 500)).Lines.Select(l => l.Message).ToList();
            Assert.True(logs.Any(l => l.Contains("worker lost", StringComparison.Ordinal) && l.Contains("its agent process was stopped", StringComparison.Ordinal)), string.Join("\n", logs));
            Assert.Equal(2, logs.Count(l => l.StartsWith("slow implementer started", StringComparison.Ordinal)));
            second.KillHard();
        }

        var branch = $"baton/{runId}";
        Assert.Equal(["document", "test", "implementation", "design", "discovery"],
            _repo.Git("log", "--format=%s", $"main..{branch}").Trim().Split('\n').Select(s => s.Split(' ')[1]));
        await using var db = await TestDatabase.ConnectAsync(_dataDir);
        var implementation = (await db.QueryAsync<(string Status, string? Error)>(
            "SELECT status, error_message FROM executions WHERE run_id = @runId AND phase = 'implementation' ORDER BY created_at", new { runId })).ToList();
        Assert.Equal([("error", "worker lost"), ("success", null)], implementation);
        Assert.Equal(1, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE run_id = @runId AND type = 'phase.completed' AND phase = 'implementation'", new { runId }));
    }

    /// <summary>The agent's host processes (bwrap, the sandbox's init, the script), once the script says it started.</summary>
    private static async Task<IReadOnlyList<int>> WaitForAgentPidAsync(BatonClient client, string runId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            if (e.Type == "log" && e.Data!.Value.GetProperty("message").GetString() is { } line && line.StartsWith("slow implementer started (pid ", StringComparison.Ordinal))
            {
                return AgentProcesses.Of(runId);
            }
        }
        throw new Xunit.Sdk.XunitException("the agent never started");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
        _repo.Dispose();
    }
}

/// <summary>
/// kill -9 of the server after a phase committed its work to the branch but before its finish transaction (while its
/// check command runs): the phase runs again from the branch as the last finished phase left it.
/// </summary>
public sealed class CommitCrashRecoveryTests : IDisposable
{
    private const string Token = "crash-test-admin-token-0003";

    /// <summary>Says it is checking, then waits (at most 30 s) until told to go on by a file `go` in its execution folder.</summary>
    private const string WaitingCheck = """i=0; : > "$HOME/../checking"; while [ ! -f "$HOME/../go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done""";

    private readonly SampleRepo _repo = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-crash-commit-").FullName;

    private string Executions => Path.Combine(_dataDir + "-work", "executions");

    [Fact]
    public async Task A_phase_killed_between_its_commit_and_its_finish_leaves_one_commit_and_its_own_diff()
    {
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "committed.yaml"), $"""
            name: committed
            phases:
              - name: implementation
                worker: implementer
                check: [sh, -c, '{WaitingCheck}']
            """);

        string runId;
        string firstCheck;
        IReadOnlyList<int> orphanedCheck;
        using (var first = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = first.Client(Token);
            await client.CreateWorkerAsync(new CreateWorkerRequest("implementer", "command", [_repo.ScriptPath("implement.sh")]));
            var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", _repo.Path));
            runId = (await client.CreateRunAsync(new CreateRunRequest("committed", "slugify", RepositoryId: repo.RepositoryId))).RunId;
            firstCheck = await ExecutionFolders.WaitForAsync(Executions, "checking", except: null);
            // The implementation is on the branch; its finish transaction has not run.
            Assert.Single(_repo.Git("log", "--format=%s", $"main..baton/{runId}").Trim().Split('\n'));
            orphanedCheck = AgentProcesses.Of(runId);
            first.KillHard();
        }
        Assert.Contains(orphanedCheck, AgentProcesses.IsAlive);

        using (var second = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = second.Client(Token);
            File.WriteAllText(Path.Combine(await ExecutionFolders.WaitForAsync(Executions, "checking", except: firstCheck), "go"), "");
            var run = await client.WaitForStatusAsync(runId, "completed");
            Assert.Equal(("completed", 2), (run.Phases[0].Status, run.Phases[0].Attempts));
            Assert.False(orphanedCheck.Any(AgentProcesses.IsAlive), "the check left running by the crash was not stopped");

            Assert.Equal([$"baton: implementation (run {runId}, iteration 1)"], _repo.Git("log", "--format=%s", $"main..baton/{runId}").Trim().Split('\n'));
            var diff = await client.GetArtifactAsync(runId, "implementation.diff.patch");
            Assert.Contains("-    raise NotImplementedError(\"slugify\")", diff, StringComparison.Ordinal);
            Assert.Contains("+    return \"-\".join(text.lower().split())", diff, StringComparison.Ordinal);
            Assert.Equal(_repo.Git("diff", "main", $"baton/{runId}"), diff);
            second.KillHard();
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
        _repo.Dispose();
    }
}
