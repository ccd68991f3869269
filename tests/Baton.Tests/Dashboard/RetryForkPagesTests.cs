using System.Net;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>A stopped run's page: the "Retry from" select and the "Fork at" form (ADR 38), and a fork's link to its parent.</summary>
public sealed class RetryForkPagesTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private static IDocument Parse(Page page) => new HtmlParser().ParseDocument(page.Html);

    private static IReadOnlyList<string> Options(IDocument doc, string selectId) =>
        doc.QuerySelectorAll($"select#{selectId} option").Select(o => o.GetAttribute("value") ?? "").ToList();

    private async Task<RunDetail> CancelledAtBuildAsync()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("handoff", "the parent's intake"));
        await _admin.WaitForAsync(run.RunId, r => r.CurrentPhase == "build", "at build");
        return await _admin.CancelAsync(run.RunId, "wrong plan");
    }

    [Fact]
    public async Task A_cancelled_run_offers_retry_from_its_phases_and_a_fork_and_both_forms_work()
    {
        var run = await CancelledAtBuildAsync();
        using var browser = await Browser.SignedInAsync(factory, "operator");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var doc = Parse(page);

        // Retry: where it stopped (empty), or the phases before it; fork: every phase the run entered.
        Assert.Equal(["", "plan"], Options(doc, "retry-from"));
        Assert.Equal(["plan", "build"], Options(doc, "fork-at"));
        var forkForm = doc.QuerySelector("form.action-fork")!;
        Assert.Equal($"/runs/{run.RunId}/fork", forkForm.GetAttribute("action"));
        Assert.NotNull(forkForm.QuerySelector("input[name=__csrf]"));
        Assert.NotNull(forkForm.QuerySelector("textarea[name=intake]"));
        Assert.NotNull(doc.QuerySelector("form.action-retry input[name=__csrf]"));

        // A fork without the form's token is refused, and makes nothing.
        var noToken = await browser.PostAsync($"/runs/{run.RunId}/fork", new Dictionary<string, string> { ["at_phase"] = "build" }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.Status);

        // A phase the run never reached is named on the page, with the input kept.
        var bad = await browser.PostAsync($"/runs/{run.RunId}/fork", new Dictionary<string, string> { ["at_phase"] = "wrap", ["intake"] = "kept text" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        var badDoc = Parse(bad);
        Assert.Contains("'wrap' never ran", badDoc.QuerySelector("#form-message")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("true", badDoc.QuerySelector("select#fork-at")!.GetAttribute("aria-invalid"));
        Assert.Equal("kept text", badDoc.QuerySelector("textarea#fork-intake")!.TextContent);

        // The fork goes to the new run's page, which links its parent.
        var forked = await browser.PostAsync($"/runs/{run.RunId}/fork", new Dictionary<string, string> { ["at_phase"] = "build", ["intake"] = "a new intake" });
        Assert.Equal(HttpStatusCode.Redirect, forked.Status);
        var forkId = forked.Location!.Split('/')[^1];
        var fork = await _admin.WaitForAsync(forkId, r => r.CurrentPhase == "build", "at build");
        Assert.Equal((run.RunId, "build", "a new intake"), (fork.ParentRunId, fork.ForkedAtPhase, fork.Intake));
        var forkPage = Parse(await browser.GetAsync($"/runs/{forkId}"));
        var parentLink = forkPage.QuerySelector("#forked-from a")!;
        Assert.Equal($"/runs/{run.RunId}", parentLink.GetAttribute("href"));
        Assert.Contains("at build", forkPage.QuerySelector("#forked-from dd")!.TextContent, StringComparison.Ordinal);
        await _admin.CancelAsync(forkId);

        // Retry from plan: a new iteration that starts at plan.
        var retried = await browser.PostAsync($"/runs/{run.RunId}/retry", new Dictionary<string, string> { ["version"] = page.Version, ["from_phase"] = "plan" });
        Assert.Equal(HttpStatusCode.Redirect, retried.Status);
        var again = await _admin.WaitForAsync(run.RunId, r => r is { CurrentPhase: "build", Iteration: 2 }, "at build in iteration 2");
        Assert.Contains(again.Phases, p => p is { Name: "plan", Iteration: 2 });
        await _admin.CancelAsync(run.RunId);
    }

    [Fact]
    public async Task Retry_from_a_phase_after_the_stop_is_named_and_a_viewer_sees_neither_form()
    {
        var run = await CancelledAtBuildAsync();
        using var browser = await Browser.SignedInAsync(factory, "operator");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var later = await browser.PostAsync($"/runs/{run.RunId}/retry", new Dictionary<string, string> { ["version"] = page.Version, ["from_phase"] = "wrap" });
        Assert.Equal(HttpStatusCode.BadRequest, later.Status);
        var doc = Parse(later);
        Assert.Contains("'wrap' comes after 'build'", doc.QuerySelector("#form-message")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("true", doc.QuerySelector("select#retry-from")!.GetAttribute("aria-invalid"));
        Assert.Equal("cancelled", (await _admin.GetRunAsync(run.RunId)).Status);

        using var viewer = await Browser.SignedInAsync(factory, "viewer");
        var viewed = Parse(await viewer.GetAsync($"/runs/{run.RunId}"));
        Assert.Null(viewed.QuerySelector("form.action-retry"));
        Assert.Null(viewed.QuerySelector("form.action-fork"));
        var refused = await viewer.PostAsync($"/runs/{run.RunId}/fork", new Dictionary<string, string> { ["at_phase"] = "build" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
    }
}
