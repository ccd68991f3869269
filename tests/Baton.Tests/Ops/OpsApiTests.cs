using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Ops;

public class OpsApiTests
{
    [Fact]
    public async Task Health_and_readiness_are_anonymous_and_nothing_else_is()
    {
        using var factory = new BatonFactory();
        var anonymous = factory.Http(token: null);
        var health = await anonymous.GetFromJsonAsync<Health>("/healthz", BatonJson.Options);
        Assert.Equal("ok", health!.Status);
        var ready = await anonymous.GetFromJsonAsync<Readiness>("/readyz", BatonJson.Options);
        Assert.Equal(("ok", "ok"), (ready!.Status, ready.Database));
        foreach (var path in new[] { "/metrics", "/openapi/v1.json", "/api/runs", "/api/profiles", "/api/events", "/api/keys" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);
        }
    }

    [Fact]
    public async Task Readiness_is_503_when_the_database_is_gone()
    {
        using var factory = new BatonFactory();
        var http = factory.Http(token: null);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
        if (TestDatabase.IsPostgres)
        {
            TestDatabase.Drop(factory.DataDir);
        }
        else
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in Directory.GetFiles(factory.DataDir, "baton.db*").Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)))
            {
                File.Delete(file);
            }
        }
        var response = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("unreachable", (await response.Content.ReadFromJsonAsync<Readiness>(BatonJson.Options))!.Database);
    }

    [Fact]
    public async Task OpenApi_describes_the_api_in_snake_case()
    {
        using var factory = new BatonFactory();
        var doc = await factory.Http().GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.StartsWith("3.1", doc.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/api/runs", "/api/runs/{id}", "/api/runs/{id}/approve", "/api/runs/{id}/artifacts/{name}", "/api/profiles", "/api/keys", "/healthz" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"missing {path}");
        }
        Assert.Contains("\"current_phase\"", doc.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_many_requests_from_one_key_are_429_with_retry_after_and_other_keys_are_unaffected()
    {
        using var factory = new BatonFactory { RateLimit = 2 };
        var http = factory.Http();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            var response = await http.GetAsync("/api/profiles");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        Assert.Equal(HttpStatusCode.OK, (await factory.Http(token: null).GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task A_caller_out_of_requests_gets_them_back_as_the_clock_moves_at_its_rate()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var factory = new BatonFactory(clock) { RateLimit = 2 };
        var http = factory.Http();
        async Task<int> OkInARowAsync()
        {
            var ok = 0;
            while ((await http.GetAsync("/api/profiles")).StatusCode == HttpStatusCode.OK)
            {
                ok++;
            }
            return ok;
        }

        // The bucket holds twice the rate; the clock stands still, so nothing refills while the test asks.
        Assert.Equal(4, await OkInARowAsync());
        var refused = await http.GetAsync("/api/profiles");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, await OkInARowAsync());
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(4, await OkInARowAsync());
    }

    [Fact]
    public async Task Unknown_routes_and_methods_are_problems_not_empty_pages()
    {
        using var factory = new BatonFactory();
        var missing = await factory.Http().GetAsync("/api/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var wrongMethod = await factory.Http().DeleteAsync("/api/runs");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
    }
}
