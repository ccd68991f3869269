using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Cluster;

/// <summary>
/// A run on a git URL moves between nodes (ADR 26): each phase fetches the run's branch `baton/&lt;run id&gt;` from the
/// remote before it starts and pushes its commit after it. Two nodes with their own ids and work dirs (as two machines
/// have) take one phase each, on one database, the first stopped before the second starts, so it runs on SQLite as
/// on PostgreSQL; the remote is a real git server (git daemon) on 127.0.0.1.
/// </summary>
public sealed class WorkspaceMoveTests : IAsyncLifetime
{
    public const string Profile = """
        name: two_places
        phases:
          - name: first
            worker: writer
            prompt: "{{intake}}"
            gate:
              timeout: 1h
              on_timeout: expire
          - name: second
            worker: writer
            prompt: "{{intake}}"
        """;

    private readonly SampleRepo _repo = new();
    private readonly string _served;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-move-").FullName;
    private readonly List<string> _workDirs = [];
    private GitDaemon? _daemon;

    public WorkspaceMoveTests()
    {
        _served = Path.Combine(_repo.Root, "served");
        Directory.CreateDirectory(_served);
        TestGit.Run(_repo.Root, "clone", "--quiet", "--bare", _repo.Path, Path.Combine(_served, "sample.git"));
    }

    private string Remote => Path.Combine(_served, "sample.git");

    public async Task InitializeAsync() => _daemon = await GitDaemon.StartAsync(_served);

    /// <summary>A node on the shared data dir (its database) with an id and a work dir of its own.</summary>
    private BatonFactory Node(string id)
    {
        var workDir = Directory.CreateTempSubdirectory($"baton-move-{id}-").FullName;
        _workDirs.Add(workDir);
        var node = new BatonFactory(dataDir: _dataDir, profiles: new Dictionary<string, string> { ["two_places"] = Profile });
        node.Settings["BATON_NODE_ID"] = id;
        node.Settings["BATON_WORK_DIR"] = workDir;
        _ = node.Server;
        return node;
    }

    [Fact]
    public async Task A_git_url_runs_phases_on_two_nodes_the_second_fetching_the_firsts_commit_and_both_commits_reach_the_remote()
    {
        string runId;
        using (var a = Node("node-a"))
        {
            a.KeepDataDir = true;
            var client = a.Client();
            // Each phase appends its name to a file: the second phase's file shows whether it started from the first's commit.
            await client.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo \"$BATON_PHASE\" >> phases.txt"]));
            var repository = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _daemon!.UrlOf("sample.git")));
            var run = await client.CreateRunAsync(new CreateRunRequest("two_places", "write where you are", RepositoryId: repository.RepositoryId));
            runId = run.RunId;
            await client.WaitForGateAsync(runId, "first", 1);
        }

        using (var b = Node("node-b"))
        {
            var client = b.Client();
            await client.ApproveAsync(runId, "go on elsewhere");
            var done = await client.WaitForStatusAsync(runId, "completed");
            Assert.Equal("completed", done.Status);
        }

        // Both commits on the remote's branch, the second on top of the first, whose file it extended.
        var branch = $"baton/{runId}";
        var subjects = TestGit.Run(Remote, "log", "--format=%s", branch).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("baton: second", subjects[0], StringComparison.Ordinal);
        Assert.StartsWith("baton: first", subjects[1], StringComparison.Ordinal);
        Assert.Equal("first\nsecond\n", TestGit.Run(Remote, "show", $"{branch}:phases.txt"));
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }
        foreach (var dir in _workDirs.Where(Directory.Exists))
        {
            Directory.Delete(dir, recursive: true);
        }
        _repo.Dispose();
    }
}
