using Baton.Client;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Extensions.Configuration;

namespace Baton.Tests.Engine;

/// <summary>
/// A node's id (BATON_NODE_ID, or one kept in the data dir) owns its leases and its executions, so a node that starts
/// again frees only its own leases and stops only its own orphaned agents: another node's work is left alone.
/// </summary>
public sealed class NodeIdentityTests : IDisposable
{
    private const string Token = "node-test-admin-token-0001";
    private readonly List<string> _dataDirs = [];
    private readonly List<int> _agents = [];

    [Theory]
    [InlineData("has space")]
    [InlineData("host:1234")]
    [InlineData("é")]
    [InlineData("a/b")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void A_bad_node_id_is_refused_with_the_setting_named(string id)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Options(("BATON_NODE_ID", id)));
        Assert.Contains("BATON_NODE_ID", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_node_id_is_taken_as_it_is()
    {
        Assert.Equal("eu-west.node_2", Options(("BATON_NODE_ID", "eu-west.node_2")).NodeId);
        Assert.Null(Options().NodeId);
    }

    [Fact]
    public async Task A_node_keeps_its_generated_id_across_restarts_and_BATON_NODE_ID_overrides_it()
    {
        var dataDir = NewDataDir();
        var first = await NodeOfARunAsync(dataDir, nodeId: null);
        var kept = Path.Combine(dataDir, "node-id");
        Assert.True(File.Exists(kept), "no node-id file in the data dir");
        Assert.Equal(File.ReadAllText(kept).Trim(), first);
        Assert.Matches("^node_[0-9a-f]{12}$", first);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kept));

        Assert.Equal(first, await NodeOfARunAsync(dataDir, nodeId: null));
        Assert.Equal("rack-7.node_b", await NodeOfARunAsync(dataDir, nodeId: "rack-7.node_b"));
        Assert.Equal(first, File.ReadAllText(kept).Trim());
    }

    [Fact]
    public async Task A_node_id_file_that_is_not_an_id_stops_the_start_with_its_path()
    {
        var dataDir = NewDataDir();
        File.WriteAllText(Path.Combine(dataDir, "node-id"), "not an id\n");
        var (exitCode, output) = await ServerProcess.RunUntilStartFailsAsync(dataDir, new Dictionary<string, string>());
        Assert.NotEqual(0, exitCode);
        Assert.Contains(Path.Combine(dataDir, "node-id"), output, StringComparison.Ordinal);
    }

    /// <summary>A git server with a bare copy of <paramref name="repo"/> as textutil.git.</summary>
    private static async Task<GitDaemon> ServedCopyAsync(SampleRepo repo)
    {
        var served = Path.Combine(repo.Root, "served");
        TestGit.Run(repo.Root, "clone", "--quiet", "--bare", repo.Path, Path.Combine(served, "textutil.git"));
        return await GitDaemon.StartAsync(served);
    }

    /// <summary>
    /// Node A runs an agent. Node B starts (on PostgreSQL alongside A, on one database; on SQLite, which one process
    /// owns, after A died): B leaves A's lease alone. Once A's lease has run out, B takes the phase over and records
    /// A's execution as lost, but does not stop A's agent: a pid of another node means nothing here. A, started again,
    /// stops it.
    /// </summary>
    [Fact]
    public async Task A_starting_node_leaves_another_nodes_lease_and_agent_alone_and_stops_its_own()
    {
        using var repo = new SampleRepo();
        var dirA = NewDataDir();
        var profile = SampleRepo.DeliveryProfile("slow", gate: false);
        File.WriteAllText(Path.Combine(dirA, "profiles", "software_delivery.yaml"), profile);
        File.WriteAllText(Path.Combine(dirA, "profiles", "straight.yaml"), TestProfiles.Straight);
        var executionsA = Path.Combine(dirA + "-work", "executions");

        using var nodeA = await ServerProcess.StartAsync(dirA, Token, new Dictionary<string, string> { ["BATON_NODE_ID"] = "node-a" });
        var clientA = nodeA.Client(Token);
        await clientA.CreateWorkerAsync(new CreateWorkerRequest("slow", "command", [repo.ScriptPath("slow-implement.sh")]));
        // On PostgreSQL B takes the run over from A, which a run on a local path never does (it waits for the node that
        // holds its workspace, ADR 26): there the repository is a git URL, served by a real git server.
        await using var daemon = TestDatabase.IsPostgres ? await ServedCopyAsync(repo) : null;
        var repository = await clientA.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", daemon?.UrlOf("textutil.git") ?? repo.Path));
        var runId = (await clientA.CreateRunAsync(new CreateRunRequest("software_delivery", "slugify", RepositoryId: repository.RepositoryId))).RunId;
        var folderA = await ExecutionFolders.WaitForAsync(executionsA, "implementing", except: null);
        // The agent's process group, as recorded: what a server stopping it would kill.
        var agentA = await ReadAsync(dirA, c => c.QuerySingleAsync<int>(
            "SELECT pid FROM executions WHERE run_id = @runId AND phase = 'implementation'", new { runId }));
        Assert.True(AgentProcesses.IsAlive(agentA));
        _agents.Add(agentA);
        var leaseA = await LeaseOfAsync(dirA, runId);
        Assert.Equal("node-a", leaseA.Owner);

        ServerProcess nodeB;
        string executionsB;
        if (TestDatabase.IsPostgres)
        {
            // B has a data dir of its own and shares A's database; it starts, dies, and starts again.
            var dirB = NewDataDir();
            File.WriteAllText(Path.Combine(dirB, "profiles", "software_delivery.yaml"), profile);
            File.WriteAllText(Path.Combine(dirB, "profiles", "straight.yaml"), TestProfiles.Straight);
            var settingsB = new Dictionary<string, string> { ["BATON_NODE_ID"] = "node-b", ["BATON_DATABASE"] = TestDatabase.SettingFor(dirA)! };
            using (var before = await ServerProcess.StartAsync(dirB, Token, settingsB))
            {
                before.KillHard();
            }
            nodeB = await ServerProcess.StartAsync(dirB, Token, settingsB);
            executionsB = Path.Combine(dirB + "-work", "executions");
        }
        else
        {
            nodeA.KillHard();
            nodeB = await ServerProcess.StartAsync(dirA, Token, new Dictionary<string, string> { ["BATON_NODE_ID"] = "node-b" });
            executionsB = executionsA;
        }
        using (nodeB)
        {
            // B has started: its start-up is over, and A's lease is still A's.
            Assert.Equal(leaseA, await LeaseOfAsync(dirA, runId));
            Assert.True(AgentProcesses.IsAlive(agentA), "node B stopped node A's agent");

            // A is gone (killed now, on PostgreSQL) and its lease runs out: B takes the phase over.
            if (TestDatabase.IsPostgres)
            {
                nodeA.KillHard();
            }
            using var db = TestDatabase.Open(dirA);
            await db.WriteAsync((c, tx) => c.ExecuteAsync("UPDATE jobs SET lease_expires_at = 1 WHERE lease_owner = 'node-a'", transaction: tx));
            var clientB = nodeB.Client(Token);
            // Any new job wakes B's workers at once, rather than at the end of the lease they last saw.
            await clientB.CreateRunAsync(new CreateRunRequest("straight", "a wake-up"));
            var folderB = await ExecutionFolders.WaitForAsync(executionsB, "implementing", except: folderA);

            var lost = await ReadAsync(dirA, c => c.QuerySingleAsync<(string Status, string? Error, string? Node)>(
                "SELECT status, error_message, node_id FROM executions WHERE run_id = @runId AND phase = 'implementation' ORDER BY created_at LIMIT 1", new { runId }));
            Assert.Equal(("error", "worker lost", "node-a"), lost);
            Assert.True(AgentProcesses.IsAlive(agentA), "node B stopped node A's orphaned agent");
            var logs = (await clientB.GetLogsAsync(runId, 500)).Lines.Select(l => l.Message).ToList();
            Assert.Contains(logs, l => l.Contains("worker lost", StringComparison.Ordinal) && !l.Contains("agent process was stopped", StringComparison.Ordinal));

            File.WriteAllText(Path.Combine(folderB, "go"), "");
            await clientB.WaitForStatusAsync(runId, "completed");
            Assert.Equal("node-b", await ReadAsync(dirA, c => c.QuerySingleAsync<string>(
                "SELECT node_id FROM executions WHERE run_id = @runId AND phase = 'implementation' AND status = 'success'", new { runId })));
        }

        // A starts again: the agent it left running, which B recorded as lost, is A's to stop, and it does at start-up.
        using (await ServerProcess.StartAsync(dirA, Token, new Dictionary<string, string> { ["BATON_NODE_ID"] = "node-a" }))
        {
            Assert.True(await Eventually.HoldsAsync(() => !AgentProcesses.IsAlive(agentA), TimeSpan.FromSeconds(10)), "node A did not stop its own orphaned agent at start-up");
        }
    }

    private static BatonOptions Options(params (string Key, string Value)[] settings) =>
        BatonOptions.From(new ConfigurationBuilder().AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value)).Build());

    private string NewDataDir()
    {
        var dir = Directory.CreateTempSubdirectory("baton-node-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "profiles"));
        _dataDirs.Add(dir);
        return dir;
    }

    /// <summary>Runs a template run to its end on a server on <paramref name="dataDir"/>; the node its execution names.</summary>
    private static async Task<string> NodeOfARunAsync(string dataDir, string? nodeId)
    {
        File.WriteAllText(Path.Combine(dataDir, "profiles", "straight.yaml"), TestProfiles.Straight);
        using var server = new BatonFactory(dataDir: dataDir) { KeepDataDir = true };
        if (nodeId is not null)
        {
            server.Settings["BATON_NODE_ID"] = nodeId;
        }
        var client = server.Client();
        var runId = (await client.CreateRunAsync(new CreateRunRequest("straight", "node id"))).RunId;
        await client.WaitForStatusAsync(runId, "completed");
        return await ReadAsync(dataDir, c => c.QuerySingleAsync<string>(
            "SELECT DISTINCT node_id FROM executions WHERE run_id = @runId", new { runId }));
    }

    private static async Task<(string? Owner, string? Token)> LeaseOfAsync(string dataDir, string runId) =>
        await ReadAsync(dataDir, c => c.QuerySingleAsync<(string? Owner, string? Token)>(
            "SELECT lease_owner, lease_token FROM jobs WHERE run_id = @runId", new { runId }));

    private static async Task<T> ReadAsync<T>(string dataDir, Func<System.Data.Common.DbConnection, Task<T>> read)
    {
        await using var c = await TestDatabase.ConnectAsync(dataDir);
        return await read(c);
    }

    public void Dispose()
    {
        // An agent a failed test left behind (its script would end by itself in 2 min).
        foreach (var pid in _agents.Where(AgentProcesses.IsAlive))
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dataDirs)
        {
            TestDatabase.Drop(dir);
            foreach (var folder in new[] { dir, dir + "-work" })
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        }
    }
}
