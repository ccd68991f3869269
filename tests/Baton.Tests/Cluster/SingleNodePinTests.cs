using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Cluster;

/// <summary>
/// On SQLite one process owns the database, so it is every node there is: a local-path run's pin to the node that
/// made its workspace never holds it back, even when the node comes back under another id (BATON_NODE_ID changed).
/// SQLite in both passes: on PostgreSQL the run would rightly wait for its node.
/// </summary>
public sealed class SingleNodePinTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-pin-").FullName;

    private BatonFactory Node(string id)
    {
        var node = new BatonFactory(dataDir: _dataDir, profiles: new Dictionary<string, string> { ["two_places"] = WorkspacePinTests.Profile })
        {
            Sqlite = true,
        };
        node.Settings["BATON_NODE_ID"] = id;
        _ = node.Server;
        return node;
    }

    [Fact]
    public async Task A_local_path_run_goes_on_after_its_node_restarts_under_another_id_and_never_waits_for_a_node()
    {
        string runId;
        using (var a = Node("node-a"))
        {
            a.KeepDataDir = true;
            var client = a.Client();
            await client.CreateWorkerAsync(new CreateWorkerRequest("writer", "command", ["sh", "-c", "echo \"$BATON_PHASE\" >> phases.txt"]));
            var repository = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
            runId = (await client.CreateRunAsync(new CreateRunRequest("two_places", "one node", RepositoryId: repository.RepositoryId))).RunId;
            Assert.Null((await client.WaitForGateAsync(runId, "first", 1)).WaitingForNode);
        }
        using var b = Node("node-b");
        await b.Client().ApproveAsync(runId, "go on");
        var done = await b.Client().WaitForStatusAsync(runId, "completed");
        Assert.Null(done.WaitingForNode);
        Assert.Equal("first\nsecond\n", _repo.Git("show", $"baton/{runId}:phases.txt"));
    }

    public void Dispose() => _repo.Dispose();
}
