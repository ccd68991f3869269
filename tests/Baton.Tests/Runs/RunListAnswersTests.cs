using Baton.Client;
using Baton.Runs;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

/// <summary>A page of the runs list is read once while no write to a run commits (SQLite), and never kept on PostgreSQL.</summary>
public sealed class RunListAnswersTests : IDisposable
{
    private readonly ApiFactory _factory = new();

    [Fact]
    public async Task A_page_is_kept_until_a_write_to_a_run_commits_and_the_next_page_shows_that_write()
    {
        var client = _factory.Client();
        var first = await client.CreateRunAsync(new CreateRunRequest("gated", "first", "kept"));
        // At its gate the run changes no more until someone decides.
        await client.WaitForGateAsync(first.RunId, "draft", 1);
        var answers = _factory.Service<RunListAnswers>();
        var page = new RunStore.ListQuery(Status: null, Profile: null, Project: "kept", Limit: 50, Offset: 0);

        var read = await answers.GetAsync(page);
        var again = await answers.GetAsync(page);
        Assert.Equal(read, again);
        // Another node may have written runs to PostgreSQL meanwhile: there every page is read.
        Assert.Equal(!TestDatabase.IsPostgres, ReferenceEquals(read, again));
        Assert.NotSame(read, await answers.GetAsync(page with { Limit = 49 }));

        // A write to other tables (a key, its audit entry) keeps the page.
        await client.CreateKeyAsync(new CreateKeyRequest("list-reader", "viewer"));
        Assert.Equal(!TestDatabase.IsPostgres, ReferenceEquals(read, await answers.GetAsync(page)));

        // A run's transition, and a new run, show at once, through the API as through the answers.
        await client.CancelAsync(first.RunId, "enough");
        Assert.Equal("cancelled", Assert.Single((await client.ListRunsAsync(project: "kept")).Runs).Status);
        var second = await client.CreateRunAsync(new CreateRunRequest("gated", "second", "kept"));
        var listed = await client.ListRunsAsync(project: "kept");
        Assert.Equal([second.RunId, first.RunId], listed.Runs.Select(r => r.RunId));
        Assert.Equal(2, listed.Total);
        Assert.NotEqual(read, await answers.GetAsync(page));
    }

    public void Dispose() => _factory.Dispose();
}
