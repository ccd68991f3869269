using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

/// <summary>
/// Creates that race, with one Idempotency-Key or against a key's quota, spread over the servers of one database
/// (<see cref="SharedDatabaseNodes"/>): the outcome is what one request after another would give, and never a 500.
/// </summary>
public sealed class ConcurrentCreateTests : IDisposable
{
    private const int Racers = 20;

    private static readonly Dictionary<string, string> Profiles = new()
    {
        // Its runs wait at a gate for an hour: they stay active, and count against the active runs quota.
        ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    };

    private SharedDatabaseNodes? _nodes;

    private SharedDatabaseNodes Nodes(Dictionary<string, string>? settings = null) => _nodes = new SharedDatabaseNodes(Profiles, settings);

    /// <summary>A client per node with one operator key (created on the first node, in the database they share).</summary>
    private static async Task<List<HttpClient>> ClientsAsync(SharedDatabaseNodes nodes)
    {
        var created = await nodes.First.Client().CreateKeyAsync(new CreateKeyRequest("racer-" + Guid.NewGuid().ToString("N")[..8], "operator"));
        return nodes.Clients(created.Token);
    }

    private static Task<HttpResponseMessage[]> RaceAsync(List<HttpClient> clients, Func<int, HttpRequestMessage> request) =>
        SharedDatabaseNodes.RaceAsync(Racers, i => clients[i % clients.Count].SendAsync(request(i)));

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

    private async Task<long> RunsOfProjectAsync(string project) => (await _nodes!.First.Client().ListRunsAsync(project: project)).Total;

    [Fact]
    public async Task Creates_racing_with_one_Idempotency_Key_give_one_run_and_the_same_answer()
    {
        var clients = await ClientsAsync(Nodes());
        var project = "idem-" + Guid.NewGuid().ToString("N")[..8];
        var key = Guid.NewGuid().ToString();

        var responses = await RaceAsync(clients, _ => Create(project, "the same intake", key));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
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
        var clients = await ClientsAsync(Nodes(new() { ["BATON_QUOTA_ACTIVE_RUNS"] = "3" }));
        var project = "quota-" + Guid.NewGuid().ToString("N")[..8];

        var responses = await RaceAsync(clients, i => Create(project, $"intake {i}"));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(Racers - 3, responses.Count(r => r.StatusCode == HttpStatusCode.Forbidden));
        Assert.Equal(3, await RunsOfProjectAsync(project));
    }

    [Fact]
    public async Task Creates_racing_against_a_stored_bytes_quota_store_no_more_than_it()
    {
        var clients = await ClientsAsync(Nodes(new() { ["BATON_QUOTA_STORED_BYTES"] = "10000" }));
        var project = "bytes-" + Guid.NewGuid().ToString("N")[..8];

        // 3,000 bytes each: three fit in 10,000, a fourth does not.
        var responses = await RaceAsync(clients, i => Create(project, $"{i:D4}" + new string('x', 2_996)));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(Racers - 3, responses.Count(r => r.StatusCode == HttpStatusCode.Forbidden));
        Assert.Equal(3, await RunsOfProjectAsync(project));
    }

    public void Dispose() => _nodes?.Dispose();
}
