using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

/// <summary>BATON_SANDBOX and a missing bubblewrap: refuse with a clear message, or run unconfined when an admin says so.</summary>
public sealed class SandboxModeTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly List<BatonFactory> _factories = [];

    private BatonFactory Factory(params (string Key, string Value)[] settings)
    {
        var factory = new BatonFactory();
        foreach (var (key, value) in settings)
        {
            factory.Settings[key] = value;
        }
        _factories.Add(factory);
        return factory;
    }

    private async Task<RunDetail> RunEnvScriptAsync(BatonFactory factory)
    {
        var client = factory.Client();
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateWorkerAsync(new CreateWorkerRequest(name, "command", [_repo.ScriptPath("env.sh")]));
        File.WriteAllText(Path.Combine(factory.DataDir, "profiles", name + ".yaml"),
            $"name: {name}\nphases:\n  - name: work\n    worker: {name}\n    max_attempts: 1\n");
        var run = await client.CreateRunAsync(new CreateRunRequest(name, "env"));
        return await client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
    }

    [Fact]
    public async Task Without_bubblewrap_command_workers_refuse_with_a_clear_message()
    {
        var factory = Factory(("BATON_BWRAP", "/nonexistent/bwrap"));
        var run = await RunEnvScriptAsync(factory);
        Assert.Equal("failed", run.Status);
        Assert.Contains("bubblewrap", run.Error, StringComparison.Ordinal);
        Assert.Contains("BATON_SANDBOX=off", run.Error, StringComparison.Ordinal);
        Assert.Equal("unavailable", (await factory.Client(null).GetReadinessAsync()).Sandbox);
    }

    [Fact]
    public async Task With_the_sandbox_off_command_workers_run_without_bubblewrap_and_get_a_private_home()
    {
        var factory = Factory(("BATON_BWRAP", "/nonexistent/bwrap"), ("BATON_SANDBOX", "off"));
        var run = await RunEnvScriptAsync(factory);
        Assert.True(run.Status == "completed", run.Error);
        var env = (await factory.Client().GetLogsAsync(run.RunId, 500)).Lines.Select(l => l.Message).ToList();
        var home = Assert.Single(env, l => l.StartsWith("HOME=", StringComparison.Ordinal));
        Assert.StartsWith($"HOME={factory.WorkDir}/executions/", home, StringComparison.Ordinal);
        Assert.Equal("off", (await factory.Client(null).GetReadinessAsync()).Sandbox);
    }

    [Fact]
    public async Task Readiness_says_bubblewrap_when_the_sandbox_is_active()
    {
        var factory = Factory();
        var ready = await factory.Client(null).GetReadinessAsync();
        Assert.Equal(("ok", "ok", "bubblewrap"), (ready.Status, ready.Database, ready.Sandbox));
        var run = await RunEnvScriptAsync(factory);
        Assert.True(run.Status == "completed", run.Error);
    }

    [Fact]
    public void A_bad_sandbox_setting_stops_the_start_with_a_clear_message()
    {
        var factory = Factory(("BATON_SANDBOX", "maybe"));
        var ex = Assert.ThrowsAny<Exception>(() => factory.Client());
        Assert.Contains("BATON_SANDBOX must be on or off", ex.ToString(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
        _repo.Dispose();
    }
}

/// <summary>A committed link to the server's own environment, against a real server process holding BATON_ADMIN_TOKEN.</summary>
public sealed class SymlinkedArtifactTests : IDisposable
{
    private const string Token = "symlink-test-admin-token-0001";
    private readonly SampleRepo _repo = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-link-").FullName;

    [Fact]
    public async Task A_committed_link_to_proc_self_environ_fails_the_phase_and_leaks_nothing()
    {
        File.CreateSymbolicLink(Path.Combine(_repo.Path, "notes.md"), "/proc/self/environ");
        _repo.Git("add", "notes.md");
        _repo.Git("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "a link");
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "notes.yaml"),
            "name: notes\nphases:\n  - name: work\n    worker: quiet\n    produces: [notes.md]\n    max_attempts: 1\n");
        using var server = await ServerProcess.StartAsync(_dataDir, Token);
        var client = server.Client(Token);
        await client.CreateWorkerAsync(new CreateWorkerRequest("quiet", "command", [_repo.ScriptPath("args.sh")]));
        var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("linked", _repo.Path));
        var run = await client.CreateRunAsync(new CreateRunRequest("notes", "leave notes.md alone", RepositoryId: repo.RepositoryId));

        var failed = await client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.Equal("failed", failed.Status);
        Assert.Contains("notes.md is a symbolic link", failed.Error, StringComparison.Ordinal);
        foreach (var artifact in (await client.ListArtifactsAsync(run.RunId)).Phases.SelectMany(p => p.Artifacts))
        {
            Assert.DoesNotContain(Token, await client.GetArtifactAsync(run.RunId, artifact.Name), StringComparison.Ordinal);
        }
        Assert.DoesNotContain((await client.GetLogsAsync(run.RunId, 500)).Lines, l => l.Message.Contains(Token, StringComparison.Ordinal));
        server.KillHard();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
        if (Directory.Exists(_dataDir + "-work"))
        {
            Directory.Delete(_dataDir + "-work", recursive: true);
        }
        _repo.Dispose();
    }
}
