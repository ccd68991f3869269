using Baton.Client;
using Baton.Engine;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Cluster;

/// <summary>
/// A run on a local-path repository stays on the node that made its workspace (ADR 26): its jobs are pinned there,
/// another node never claims them, and while the node is gone the run says which node it waits for. Several nodes on
/// one PostgreSQL (trait Database=postgres), each its own host; an api node whose clock the test moves.
/// </summary>
[Trait("Database", "postgres")]
public sealed class WorkspacePinTests : IDisposable
{
    /// <summary>Two phases that change the workspace, with a gate between them at which the test moves nodes around.</summary>
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
    private readonly List<BatonFactory> _nodes = [];
    private readonly FakeTimeProvider _apiClock = new(DateTimeOffset.UtcNow);

    public WorkspacePinTests()
    {
        if (!TestDatabase.IsPostgres)
        {
            throw new InvalidOperationException("several nodes need PostgreSQL: run ./test, or set BATON_TEST_POSTGRES");
        }
    }

    /// <summary>A node on the first node's database; a worker node named <paramref name="id"/>, on <paramref name="dataDir"/> when it starts again.</summary>
    private BatonFactory Node(string role, string? id = null, string? dataDir = null)
    {
        var node = new BatonFactory(clock: _nodes.Count == 0 ? _apiClock : null, dataDir: dataDir,
            profiles: new Dictionary<string, string> { ["two_places"] = Profile });
        node.Settings["BATON_ROLE"] = role;
        if (id is not null)
        {
            node.Settings["BATON_NODE_ID"] = id;
        }
        if (_nodes.Count > 0)
        {
            node.Settings["BATON_DATABASE"] = TestDatabase.SettingFor(_nodes[0].DataDir)!;
        }
        _nodes.Add(node);
        _ = node.Server;
        return node;
    }

    [Fact]
    public async Task A_local_path_runs_next_phase_waits_for_its_node_names_it_once_gone_and_runs_there_when_it_is_back()
    {
        var api = Node("api");
        var a = Node("worker", "node-a");
        a.KeepDataDir = true;
        var client = api.Client();
        await client.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo \"$BATON_PHASE\" >> phases.txt"]));
        var repository = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var run = await client.CreateRunAsync(new CreateRunRequest("two_places", "stay where your workspace is", RepositoryId: repository.RepositoryId));
        var atGate = await client.WaitForGateAsync(run.RunId, "first", 1);
        Assert.Null(atGate.WaitingForNode);

        // Node a goes away; node b, up all along from here, is woken by the approval's job and must leave it alone.
        a.Dispose();
        _nodes.Remove(a);
        Node("worker", "node-b");
        await client.ApproveAsync(run.RunId, "go on");
        var justApproved = await client.GetRunAsync(run.RunId);
        Assert.Null(justApproved.WaitingForNode);

        // Past node a's last heartbeat (at most now, by the real clock) by more than the time that makes a node gone.
        _apiClock.Advance(DateTimeOffset.UtcNow - _apiClock.GetUtcNow() + NodeStore.GoneAfter + TimeSpan.FromSeconds(5));
        var waiting = await client.GetRunAsync(run.RunId);
        Assert.Equal("running", waiting.Status);
        Assert.Equal("node-a", waiting.WaitingForNode);
        using (var browser = await Dashboard.Browser.SignedInAsync(api, "viewer"))
        {
            Assert.Contains("Waiting for node <code>node-a</code>", (await browser.GetAsync($"/runs/{run.RunId}")).Html, StringComparison.Ordinal);
        }

        // Node a back, on its own data dir and work dir: it finishes the run in the workspace it made.
        Node("worker", "node-a", a.DataDir);
        var done = await client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Null(done.WaitingForNode);
        await using var db = await TestDatabase.ConnectAsync(api.DataDir);
        var ranOn = (await db.QueryAsync<(string Phase, string Node)>(
            "SELECT phase, node_id FROM executions WHERE run_id = @RunId ORDER BY started_at", new { run.RunId })).ToList();
        Assert.Equal([("first", "node-a"), ("second", "node-a")], ranOn);
    }

    public void Dispose()
    {
        // The nodes after the first share its database, which goes with the first.
        foreach (var node in Enumerable.Reverse(_nodes))
        {
            node.KeepDataDir = false;
            node.Dispose();
        }
        _repo.Dispose();
    }
}
