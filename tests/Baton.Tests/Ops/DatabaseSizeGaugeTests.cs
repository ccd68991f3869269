using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Ops;

/// <summary>The database size gauges on /metrics (issue 14, item 5), on the suite's database (SQLite, or PostgreSQL).</summary>
public sealed class DatabaseSizeGaugeTests
{
    [Fact]
    public async Task Metrics_show_the_database_size_and_bytes_per_run_read_once_a_minute()
    {
        using var factory = new BatonFactory();
        var client = factory.Client();
        foreach (var intake in new[] { "one", "two", "three" })
        {
            await client.WaitForStatusAsync((await client.CreateRunAsync(new CreateRunRequest("planning_rail", intake))).RunId, "completed");
        }

        var families = await ScrapeAsync(factory);
        var size = families.Value("baton_database_size_bytes", "gauge", []);
        var perRun = families.Value("baton_database_run_size_bytes", "gauge", []);
        Assert.False(string.IsNullOrWhiteSpace(families.Of("baton_database_size_bytes", "gauge").Help));
        // A migrated database has dozens of tables and indexes: far more than a few pages, on either database.
        Assert.InRange(size, 100_000, 1e10);
        Assert.Equal(Math.Floor(size / 3), perRun);

        // Written to since, but read a minute ago at most: the same answer, without another read.
        var big = await client.CreateRunAsync(new CreateRunRequest("planning_rail", new string('x', 500_000)));
        await client.WaitForStatusAsync(big.RunId, "completed");
        var again = await ScrapeAsync(factory);
        Assert.Equal((size, perRun), (again.Value("baton_database_size_bytes", "gauge", []), again.Value("baton_database_run_size_bytes", "gauge", [])));
    }

    private static async Task<Dictionary<string, PrometheusText.Family>> ScrapeAsync(BatonFactory factory) =>
        PrometheusText.Parse(await factory.Http().GetStringAsync("/metrics"));
}
