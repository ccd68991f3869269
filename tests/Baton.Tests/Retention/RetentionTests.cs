using System.Net;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Retention;

/// <summary>Retention: old finished runs lose their events, logs and artifacts and keep their rows; newer runs are untouched.</summary>
public sealed class RetentionTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-09-01T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Gc_shrinks_old_runs_leaves_new_ones_and_the_run_list_still_shows_both()
    {
        var clock = new FakeTimeProvider(Start);
        using var factory = new BatonFactory(clock, profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight });
        var client = factory.Client();
        var old = (await client.CreateRunAsync(new CreateRunRequest("straight", "old work"))).RunId;
        await client.WaitForStatusAsync(old, "completed");
        clock.Advance(TimeSpan.FromDays(31));
        var recent = (await client.CreateRunAsync(new CreateRunRequest("straight", "new work"))).RunId;
        await client.WaitForStatusAsync(recent, "completed");
        var recentBefore = await CountsAsync(factory, recent);
        var oldBefore = await CountsAsync(factory, old);
        Assert.True(oldBefore.Events > 5 && oldBefore.Artifacts == 3, oldBefore.ToString());

        var freed = await client.GcAsync("30d");

        Assert.Equal((1, oldBefore.Events, 3L), (freed.Runs, freed.EventsDeleted, freed.ArtifactsDeleted));
        Assert.True(freed.BytesFreed > 0);
        Assert.Equal(recentBefore, await CountsAsync(factory, recent));
        var oldAfter = await CountsAsync(factory, old);
        Assert.Equal((1L, 0L), (oldAfter.Events, oldAfter.Artifacts));
        Assert.Equal(["retention.applied"], await EventTypesAsync(factory, old));
        Assert.Empty((await client.ListArtifactsAsync(old)).Phases.SelectMany(p => p.Artifacts));
        foreach (var name in new[] { "one.md", "two.md", "three.md" })
        {
            Assert.NotEmpty(await client.GetArtifactAsync(recent, name));
        }
        var listed = (await client.ListRunsAsync()).Runs.Select(r => (r.RunId, r.Status)).ToList();
        Assert.Contains((old, "completed"), listed);
        Assert.Contains((recent, "completed"), listed);
        Assert.Equal(["one", "two", "three"], (await client.GetRunAsync(old)).Phases.Select(p => p.Name));
        Assert.Equal(HttpStatusCode.OK, (await factory.Http().GetAsync($"/runs/{old}")).StatusCode);

        // Again: nothing left to do.
        Assert.Equal(new GcResult(0, 0, 0, 0, 0), await client.GcAsync("30d"));
    }

    [Fact]
    public async Task Baton_retention_applies_by_itself_on_its_hourly_pass()
    {
        var clock = new FakeTimeProvider(Start);
        using var factory = new BatonFactory(clock, profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight });
        factory.Settings["BATON_RETENTION"] = "30d";
        var client = factory.Client();
        var old = (await client.CreateRunAsync(new CreateRunRequest("straight", "old work"))).RunId;
        await client.WaitForStatusAsync(old, "completed");

        clock.Advance(TimeSpan.FromDays(31));

        await Eventually.TrueAsync(async () => await EventTypesAsync(factory, old) is ["retention.applied"], "the hourly pass retained the old run");
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"older_than":"soon"}""")]
    [InlineData("""{"older_than":"0s"}""")]
    [InlineData("""{"older_than":"100000d"}""")]
    [InlineData("""{"older_than":5}""")]
    [InlineData("""{"older_than":""")]
    public async Task A_bad_age_is_400_and_deletes_nothing(string json)
    {
        using var factory = new ApiFactory();
        var run = (await factory.Client().CreateRunAsync(new CreateRunRequest("straight", "x"))).RunId;
        await factory.Client().WaitForStatusAsync(run, "completed");
        var before = await CountsAsync(factory, run);
        var response = await factory.Http().PostAsync("/api/gc", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, await CountsAsync(factory, run));
    }

    [Fact]
    public async Task Only_an_admin_may_collect()
    {
        using var factory = new BatonFactory();
        var approver = await factory.Client().CreateKeyAsync(new CreateKeyRequest("gc-approver", "approver"));
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.Http(approver.Token).PostAsJsonAsync("/api/gc", new { older_than = "1d" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(token: null).PostAsJsonAsync("/api/gc", new { older_than = "1d" })).StatusCode);
    }

    private static async Task<(long Events, long Artifacts)> CountsAsync(BatonFactory factory, string runId)
    {
        await using var db = await TestDatabase.ConnectAsync(factory.DataDir);
        return (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE run_id = @runId", new { runId }),
            await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM artifacts WHERE run_id = @runId", new { runId }));
    }

    private static async Task<List<string>> EventTypesAsync(BatonFactory factory, string runId)
    {
        await using var db = await TestDatabase.ConnectAsync(factory.DataDir);
        return (await db.QueryAsync<string>("SELECT type FROM events WHERE run_id = @runId ORDER BY created_at", new { runId })).AsList();
    }
}
