using System.Globalization;
using Baton.Client;

namespace Baton.Bench;

/// <summary>
/// Baton as docs/OPERATIONS.md's "N nodes and PostgreSQL": one api node (BATON_ROLE=api: the HTTP API the bench
/// talks to, no engine) and N worker nodes (BATON_ROLE=worker: the engine, /readyz and /metrics only), each a
/// `dotnet Baton.Server.dll` process with its own data dir and BATON_NODE_ID, all on one fresh database of their own,
/// which is dropped when they have stopped.
/// </summary>
internal sealed class ClusterNodes : IAsyncDisposable
{
    private readonly PostgresServer _postgres;

    private ClusterNodes(PostgresServer postgres, string database, ServerProcess api, IReadOnlyList<ServerProcess> workers)
    {
        _postgres = postgres;
        Database = database;
        Api = api;
        Workers = workers;
    }

    /// <summary>The connection string of this cluster's database.</summary>
    public string Database { get; }

    public ServerProcess Api { get; }

    public IReadOnlyList<ServerProcess> Workers { get; }

    public IEnumerable<ServerProcess> All => Workers.Prepend(Api);

    public BatonClient Client => Api.Client;

    public static string ApiNodeId => "bench-api";

    public static string WorkerNodeId(int i) => Inv($"bench-worker-{i}");

    /// <param name="postgres">the server to create the database on.</param>
    /// <param name="workerNodes">how many worker nodes.</param>
    /// <param name="engineWorkers">BATON_WORKERS of each worker node, or null for the shipped default.</param>
    /// <param name="dataRoot">where the nodes' data dirs go.</param>
    /// <param name="phaseDelay">the delay of <see cref="BenchServer.DelayedProfile"/>'s phases.</param>
    public static async Task<ClusterNodes> StartAsync(PostgresServer postgres, int workerNodes, int? engineWorkers, string dataRoot, TimeSpan phaseDelay)
    {
        var database = await postgres.CreateDatabaseAsync();
        var started = new List<ServerProcess>();
        try
        {
            // The api node first: it migrates the empty database, so the workers start on a ready schema (they would
            // wait on the migration lock anyway). Every node gets the same profiles, as OPERATIONS.md asks, though only
            // the node that creates a run reads them: the run keeps its profile version in the database.
            var api = await ServerProcess.StartAsync(BenchServer.NewDataDir(dataRoot, phaseDelay), engineWorkers, Settings(database, "api", ApiNodeId), "api");
            started.Add(api);
            var workers = await Task.WhenAll(Enumerable.Range(1, workerNodes).Select(i =>
                ServerProcess.StartAsync(BenchServer.NewDataDir(dataRoot, phaseDelay), engineWorkers, Settings(database, "worker", WorkerNodeId(i)), WorkerNodeId(i))));
            started.AddRange(workers);
            return new ClusterNodes(postgres, database, api, workers);
        }
        catch
        {
            await Task.WhenAll(started.Select(s => s.DisposeAsync().AsTask()));
            await postgres.DropDatabaseAsync(database);
            throw;
        }
    }

    /// <summary>CPU time of every node's process so far (user + system).</summary>
    public TimeSpan CpuTime() => All.Aggregate(TimeSpan.Zero, (sum, node) => sum + node.CpuTime());

    /// <summary>Stops every node (SIGTERM to its PID, at once), deletes their data dirs and drops the database.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(All.Select(s => s.DisposeAsync().AsTask()));
        await _postgres.DropDatabaseAsync(Database);
    }

    private static Dictionary<string, string> Settings(string database, string role, string nodeId) => new()
    {
        ["BATON_DATABASE"] = database,
        ["BATON_ROLE"] = role,
        ["BATON_NODE_ID"] = nodeId,
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
