namespace Baton.Tests.Support;

/// <summary>
/// Servers that share one database, as the nodes of a deployment do: on PostgreSQL two, the second on the first's
/// database; on SQLite one, since one process owns the file (there the requests race on one server).
/// </summary>
public sealed class SharedDatabaseNodes : IDisposable
{
    private readonly List<BatonFactory> _nodes = [];

    public SharedDatabaseNodes(IDictionary<string, string>? profiles = null, IDictionary<string, string>? settings = null)
    {
        var first = new BatonFactory(profiles: profiles);
        _nodes.Add(first);
        if (TestDatabase.IsPostgres)
        {
            var second = new BatonFactory(profiles: profiles);
            second.Settings["BATON_DATABASE"] = TestDatabase.SettingFor(first.DataDir)!;
            _nodes.Add(second);
        }
        foreach (var node in _nodes)
        {
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                node.Settings[key] = value;
            }
            // Started now, so start-up work does not spread out the requests of a race.
            _ = node.Server;
        }
    }

    public IReadOnlyList<BatonFactory> Nodes => _nodes;

    public BatonFactory First => _nodes[0];

    /// <summary>An HTTP client per node, all with <paramref name="token"/> (a key in the database they share).</summary>
    public List<HttpClient> Clients(string? token = BatonFactory.AdminToken) => [.. _nodes.Select(n => n.Http(token))];

    /// <summary>Starts <paramref name="count"/> racers together (none waits for another to be sent) and awaits them all.</summary>
    public static async Task<T[]> RaceAsync<T>(int count, Func<int, Task<T>> racer)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, count).Select(async i =>
        {
            await go.Task;
            return await racer(i);
        }).ToList();
        go.SetResult();
        return await Task.WhenAll(racers);
    }

    public void Dispose()
    {
        // The second node first: the database it uses is the first's, dropped with it.
        foreach (var node in Enumerable.Reverse(_nodes))
        {
            node.Dispose();
        }
    }
}
