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
    private const string Profile = """
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
            gate:
              timeout: 1h
              on_timeout: expire
          - name: third
            worker: writer
            prompt: "{{intake}}"
          - name: fourth
            worker: writer
            prompt: "{{intake}}"
        """;

    private readonly SampleRepo _repo = new();
    private readonly string _served;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-move-").FullName;
    private readonly Dictionary<string, string> _workDirs = [];
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
        if (!_workDirs.TryGetValue(id, out var workDir))
        {
            workDir = _workDirs[id] = Directory.CreateTempSubdirectory($"baton-move-{id}-").FullName;
        }
        var node = new BatonFactory(dataDir: _dataDir, profiles: new Dictionary<string, string> { ["two_places"] = Profile });
        node.Settings["BATON_NODE_ID"] = id;
        node.Settings["BATON_WORK_DIR"] = workDir;
        _ = node.Server;
        return node;
    }

    [Fact]
    public async Task A_git_url_run_moves_between_two_nodes_each_phase_fetching_the_last_ones_commit_and_all_commits_reach_the_remote()
    {
        string runId;
        using (var a = Node("node-a"))
        {
            a.KeepDataDir = true;
            var client = a.Client();
            // Each phase appends its name to a file: a phase's file shows whether it started from the last phase's commit.
            await client.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo \"$BATON_PHASE\" >> phases.txt"]));
            var repository = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _daemon!.UrlOf("sample.git")));
            var run = await client.CreateRunAsync(new CreateRunRequest("two_places", "write where you are", RepositoryId: repository.RepositoryId));
            runId = run.RunId;
            await client.WaitForGateAsync(runId, "first", 1);
        }

        // Node b has never seen the run: it clones, and must start from node a's commit.
        using (var b = Node("node-b"))
        {
            b.KeepDataDir = true;
            await b.Client().ApproveAsync(runId, "go on elsewhere");
            await b.Client().WaitForGateAsync(runId, "second", 1);
        }

        // Node a again: its worktree from the first phase is behind node b's commit; the fourth phase follows on it.
        using (var a = Node("node-a"))
        {
            await a.Client().ApproveAsync(runId, "back to the first node");
            await a.Client().WaitForStatusAsync(runId, "completed");
        }

        // Every commit on the remote's branch, each on top of the last, whose file it extended.
        var branch = $"baton/{runId}";
        var subjects = TestGit.Run(Remote, "log", "--format=%s", branch).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["fourth", "third", "second", "first"], subjects.Take(4).Select(SubjectPhase));
        Assert.Equal("first\nsecond\nthird\nfourth\n", TestGit.Run(Remote, "show", $"{branch}:phases.txt"));
    }

    /// <summary>The phase of a Baton commit's subject, `baton: &lt;phase&gt; (run …)`.</summary>
    private static string SubjectPhase(string subject) => subject["baton: ".Length..subject.IndexOf(' ', "baton: ".Length)];

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }
        foreach (var dir in _workDirs.Values.Where(Directory.Exists))
        {
            Directory.Delete(dir, recursive: true);
        }
        _repo.Dispose();
    }
}
