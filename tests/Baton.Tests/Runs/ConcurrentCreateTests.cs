using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

/// <summary>
/// Creates that race: with one Idempotency-Key, and against a key's quota. On PostgreSQL the requests go to two
/// servers on one database, as two nodes would; on SQLite one process owns the file, so they race on one server.
/// </summary>
public sealed class ConcurrentCreateTests : IDisposable
{
    private const int Racers = 20;

    private static readonly Dictionary<string, string> Profiles = new()
    {
        ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    };

    private readonly List<BatonFactory> _nodes = [];

    /// <summary>One server, or on PostgreSQL two on the first one's database.</summary>
    private List<BatonFactory> Nodes(Dictionary<string, string>? settings = null)
    {
        var first = new BatonFactory(profiles: Profiles);
        _nodes.Add(first);
        if (TestDatabase.IsPostgres)
        {
            var second = new BatonFactory(profiles: Profiles);
            second.Settings["BATON_DATABASE"] = TestDatabase.SettingFor(first.DataDir)!;
            _nodes.Add(second);
        }
        foreach (var node in _nodes)
        {
            foreach (var (key, value) in settings ?? [])
            {
                node.Settings[key] = value;
            }
            // Started before the race, so start-up work does not spread the requests out.
            _ = node.Server;
        }
        return _nodes;
    }

    /// <summary>The same token on every node: a key created on the first is in the database they share.</summary>
    private static async Task<List<HttpClient>> ClientsAsync(List<BatonFactory> nodes, string role = "operator")
    {
        var created = await nodes[0].Client().CreateKeyAsync(new CreateKeyRequest("racer-" + Guid.NewGuid().ToString("N")[..8], role));
        return [.. nodes.Select(n => n.Http(created.Token))];
    }

    /// <summary>Sends <see cref="Racers"/> requests at once, spread over the clients.</summary>
    private static async Task<HttpResponseMessage[]> RaceAsync(List<HttpClient> clients, Func<int, HttpRequestMessage> request)
    {
        using var go = new ManualResetEventSlim();
        var racers = Enumerable.Range(0, Racers).Select(i => Task.Run(async () =>
        {
            go.Wait();
            return await clients[i % clients.Count].SendAsync(request(i));
        })).ToList();
        go.Set();
        return await Task.WhenAll(racers);
    }

    private static HttpRequestMessage Create(string project, string intake, string? idempotencyKey = null)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/api/runs")
        {
            Content = JsonContent.Create(new { profile = "gated", intake, project_name = project }),
        };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return message;
    }

    private static async Task<string> RunIdAsync(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("run_id").GetString()!;
    }

    private async Task<long> RunsOfProjectAsync(string project) => (await _nodes[0].Client().ListRunsAsync(project: project)).Total;

    [Fact]
    public async Task Creates_racing_with_one_Idempotency_Key_give_one_run_and_the_same_answer()
    {
        var nodes = Nodes();
        var clients = await ClientsAsync(nodes);
        var project = "idem-" + Guid.NewGuid().ToString("N")[..8];
        var key = Guid.NewGuid().ToString();

        var responses = await RaceAsync(clients, _ => Create(project, "the same intake", key));

        var statuses = responses.Select(r => r.StatusCode).ToList();
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        var ids = await Task.WhenAll(responses.Select(RunIdAsync));
        Assert.Single(ids.Distinct());
        Assert.Equal(1, await RunsOfProjectAsync(project));

        // A different request with that key, racing too, is refused everywhere and creates nothing.
        var reused = await RaceAsync(clients, i => Create(project, $"another intake {i}", key));
        Assert.All(reused, r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        Assert.Equal(1, await RunsOfProjectAsync(project));
    }

    [Fact]
    public async Task Creates_racing_against_an_active_runs_quota_create_no_more_than_it()
    {
        var nodes = Nodes(new() { ["BATON_QUOTA_ACTIVE_RUNS"] = "3" });
        var clients = await ClientsAsync(nodes);
        var project = "quota-" + Guid.NewGuid().ToString("N")[..8];

        var responses = await RaceAsync(clients, i => Create(project, $"intake {i}"));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(Racers - 3, responses.Count(r => r.StatusCode == HttpStatusCode.Forbidden));
        Assert.Equal(3, await RunsOfProjectAsync(project));
    }

    [Fact]
    public async Task Creates_racing_against_a_stored_bytes_quota_store_no_more_than_it()
    {
        var nodes = Nodes(new() { ["BATON_QUOTA_STORED_BYTES"] = "10000" });
        var clients = await ClientsAsync(nodes);
        var project = "bytes-" + Guid.NewGuid().ToString("N")[..8];

        // 3,000 bytes each: three fit in 10,000, a fourth does not.
        var responses = await RaceAsync(clients, i => Create(project, $"{i:D4}" + new string('x', 2_996)));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(Racers - 3, responses.Count(r => r.StatusCode == HttpStatusCode.Forbidden));
        Assert.Equal(3, await RunsOfProjectAsync(project));
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
