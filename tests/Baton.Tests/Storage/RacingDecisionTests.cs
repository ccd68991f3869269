using System.Net;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Dashboard;
using Baton.Storage;
using Baton.Tests.Support;

namespace Baton.Tests.Storage;

/// <summary>
/// Decisions that read, decide and write, taken by requests that race over the servers of one database
/// (<see cref="SharedDatabaseNodes"/>). SQLite's single writer made each one atomic; under PostgreSQL's read committed
/// each must lock what it decides on. The outcome must be what one request after another would give, never a 500.
/// </summary>
public sealed class RacingDecisionTests : IDisposable
{
    private const int Racers = 20;

    private readonly SharedDatabaseNodes _nodes = new();
    private readonly SampleRepo _repo = new();

    private Task<HttpResponseMessage[]> RaceAsync(Func<HttpClient, int, Task<HttpResponseMessage>> request)
    {
        var clients = _nodes.Clients();
        return SharedDatabaseNodes.RaceAsync(Racers, i => request(clients[i % clients.Count], i));
    }

    private static int Count(HttpResponseMessage[] responses, HttpStatusCode status) => responses.Count(r => r.StatusCode == status);

    [Fact]
    public async Task Keys_created_at_once_with_one_name_give_one_key()
    {
        var name = "same-" + Guid.NewGuid().ToString("N")[..8];
        var responses = await RaceAsync((http, _) => http.PostAsJsonAsync("/api/keys", new { name, role = "viewer" }));

        Assert.Equal(1, Count(responses, HttpStatusCode.Created));
        Assert.Equal(Racers - 1, Count(responses, HttpStatusCode.Conflict));
        var keys = await _nodes.First.Client().ListKeysAsync();
        Assert.Single(keys.Keys, k => k.Name == name);
    }

    [Fact]
    public async Task Workers_created_at_once_with_one_name_give_one_worker()
    {
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        var responses = await RaceAsync((http, _) => http.PostAsJsonAsync("/api/workers", new { name, kind = "command", argv = new[] { "/bin/true" } }));

        Assert.True(Count(responses, HttpStatusCode.Created) == 1, $"{responses[0].StatusCode}: {await responses[0].Content.ReadAsStringAsync()}");
        Assert.Equal(Racers - 1, Count(responses, HttpStatusCode.Conflict));
        Assert.Single((await _nodes.First.Client().ListWorkersAsync()).Workers, w => w.Name == name);
    }

    [Fact]
    public async Task A_key_revoked_at_once_by_many_is_revoked_once()
    {
        var key = await _nodes.First.Client().CreateKeyAsync(new CreateKeyRequest("revoked-" + Guid.NewGuid().ToString("N")[..8], "viewer"));
        var responses = await RaceAsync((http, _) => http.DeleteAsync($"/api/keys/{key.KeyId}"));

        Assert.Equal(1, Count(responses, HttpStatusCode.NoContent));
        Assert.Equal(Racers - 1, Count(responses, HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task A_sign_in_link_redeemed_at_once_by_many_signs_in_once()
    {
        var key = await _nodes.First.Client().CreateKeyAsync(new CreateKeyRequest("link-" + Guid.NewGuid().ToString("N")[..8], "viewer"));
        var databases = _nodes.Nodes.Select(n => n.Service<Database>()).ToList();
        var link = await SignInLinks.CreateAsync(databases[0], key.KeyId, "http://localhost", TimeProvider.System);
        var code = Uri.UnescapeDataString(link.Url[(link.Url.IndexOf("#code=", StringComparison.Ordinal) + "#code=".Length)..]);

        var redeemed = await SharedDatabaseNodes.RaceAsync(Racers, i => SignInLinks.RedeemAsync(databases[i % databases.Count], code, DateTimeOffset.UtcNow));

        Assert.Equal(key.KeyId, Assert.Single(redeemed, k => k is not null)!.Id);
    }

    [Fact]
    public async Task A_repository_deleted_while_work_items_are_created_in_it_is_either_kept_or_left_unused()
    {
        var client = _nodes.First.Client();
        for (var round = 0; round < 5; round++)
        {
            var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest($"raced-{round}", _repo.Path));
            // The delete races in the middle of the creates.
            var responses = await RaceAsync((http, i) => i == Racers / 2
                ? http.DeleteAsync($"/api/repositories/{repo.RepositoryId}")
                : http.PostAsJsonAsync("/api/work-items", new { title = $"item {i}", repository_id = repo.RepositoryId }));

            var delete = responses[Racers / 2].StatusCode;
            var creates = responses.Where((_, i) => i != Racers / 2).Select(r => r.StatusCode).ToList();
            Assert.DoesNotContain(HttpStatusCode.InternalServerError, responses.Select(r => r.StatusCode));
            Assert.All(creates, s => Assert.Contains(s, new[] { HttpStatusCode.Created, HttpStatusCode.BadRequest }));
            if (delete == HttpStatusCode.NoContent)
            {
                Assert.DoesNotContain(HttpStatusCode.Created, creates);
            }
            else
            {
                Assert.Equal(HttpStatusCode.Conflict, delete);
                Assert.Contains(HttpStatusCode.Created, creates);
            }
        }
    }

    [Fact]
    public async Task A_work_item_deleted_while_executions_are_created_for_it_is_either_kept_or_left_unused()
    {
        var client = _nodes.First.Client();
        var worker = await client.CreateWorkerAsync(new CreateWorkerRequest("w" + Guid.NewGuid().ToString("N")[..8], "command", ["/bin/true"]));
        for (var round = 0; round < 3; round++)
        {
            var item = await client.CreateWorkItemAsync(new CreateWorkItemRequest($"raced {round}"));
            var responses = await RaceAsync((http, i) => i == Racers / 2
                ? http.DeleteAsync($"/api/work-items/{item.WorkItemId}")
                : http.PostAsJsonAsync("/api/agent-runtime/execute", new { worker_id = worker.WorkerId, work_item_id = item.WorkItemId, prompt = "x" }));

            var delete = responses[Racers / 2].StatusCode;
            var creates = responses.Where((_, i) => i != Racers / 2).Select(r => r.StatusCode).ToList();
            Assert.DoesNotContain(HttpStatusCode.InternalServerError, responses.Select(r => r.StatusCode));
            Assert.All(creates, s => Assert.Contains(s, new[] { HttpStatusCode.Created, HttpStatusCode.NotFound }));
            if (delete == HttpStatusCode.NoContent)
            {
                Assert.DoesNotContain(HttpStatusCode.Created, creates);
            }
            else
            {
                // 404 "work item without executions": one was created first.
                Assert.Equal(HttpStatusCode.NotFound, delete);
                Assert.Contains(HttpStatusCode.Created, creates);
            }
        }
    }

    public void Dispose()
    {
        _nodes.Dispose();
        _repo.Dispose();
    }
}
