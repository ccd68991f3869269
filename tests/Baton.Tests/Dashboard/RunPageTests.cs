using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Dashboard;

/// <summary>A run's page: header, timeline, the five tabs, the log download and the decision forms.</summary>
public class RunPageTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role);

    private async Task<RunDetail> CompletedAsync()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "# Ship it"));
        return await _admin.WaitForStatusAsync(run.RunId, "completed");
    }

    private async Task<RunDetail> AtGateAsync()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", "Write the draft."));
        return await _admin.WaitForGateAsync(run.RunId, "draft", 1);
    }

    private static void Selected(Page page, string tab, HttpStatusCode status = HttpStatusCode.OK)
    {
        Assert.Equal(status, page.Status);
        Assert.Matches($"<a id=\"tab-{tab}\"[^>]*aria-current=\"page\"", page.Html);
        // The top bar's Runs entry is the page's other aria-current link.
        Assert.Equal(2, Regex.Matches(page.Html, "aria-current=\"page\"").Count);
        Assert.Single(Regex.Matches(page.Html, "id=\"tab-panel\""));
        Assert.Contains($"<section id=\"tab-panel\" aria-labelledby=\"tab-{tab}\" class=\"tab-panel\">", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("role=\"tab", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("aria-selected", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_tab_renders_its_panel_and_an_unknown_tab_is_the_phases_tab()
    {
        var run = await CompletedAsync();
        using var browser = await SignedInAsync("viewer");
        var id = run.RunId;

        var page = await browser.GetAsync($"/runs/{id}");
        Selected(page, "phases");
        Assert.Contains("<nav aria-label=\"Run sections\" class=\"tabs\">", page.Html, StringComparison.Ordinal);
        foreach (var tab in new[] { "phases", "artifacts", "metrics", "logs", "events" })
        {
            Assert.Contains($"<a id=\"tab-{tab}\" href=\"/runs/{id}?tab={tab}\"", page.Html, StringComparison.Ordinal);
        }
        Assert.Contains("<td>two</td>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<dt>Created</dt>", page.Html, StringComparison.Ordinal);
        Assert.Contains($"data-run=\"{id}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("data-status=\"completed\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("data-finished=\"true\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"data-url=\"/runs/{id}?tab=phases\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("class=\"timeline-chart\"", page.Html, StringComparison.Ordinal);

        var unknown = await browser.GetAsync($"/runs/{id}?tab=%3Cscript%3E");
        Selected(unknown, "phases");
        Assert.Contains("<td>two</td>", unknown.Html, StringComparison.Ordinal);

        var artifacts = await browser.GetAsync($"/runs/{id}?tab=artifacts");
        Selected(artifacts, "artifacts");
        Assert.Contains($"href=\"/runs/{id}/artifacts/two.md?iteration=1\"", artifacts.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("/compare?", artifacts.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<td>two</td>", artifacts.Html, StringComparison.Ordinal);

        var metrics = await browser.GetAsync($"/runs/{id}?tab=metrics");
        Selected(metrics, "metrics");
        foreach (var chart in new[] { "Cost per phase", "Tokens per phase", "Duration per phase" })
        {
            Assert.Contains($"<figcaption>{chart}</figcaption>", metrics.Html, StringComparison.Ordinal);
        }
        Assert.Contains("class=\"chart-bar\"><title>two: ", metrics.Html, StringComparison.Ordinal);
        Assert.Contains("<th scope=\"row\">three</th>", metrics.Html, StringComparison.Ordinal);

        var logs = await browser.GetAsync($"/runs/{id}?tab=logs");
        Selected(logs, "logs");
        Assert.Contains("[two#1] rendered two.md", logs.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{id}/logs.txt\"", logs.Html, StringComparison.Ordinal);
        Assert.Contains("src=\"/dashboard/logs.js\"", logs.Html, StringComparison.Ordinal);
        Assert.Contains("aria-pressed=\"true\"", logs.Html, StringComparison.Ordinal);
        // The log list is outside #live, so live.js's swaps keep the lines logs.js appended.
        Assert.Contains("</nav></div><section id=\"tab-panel\" aria-labelledby=\"tab-logs\"", logs.Html, StringComparison.Ordinal);
        var last = await factory.Service<Database>().ReadAsync(c =>
            c.ExecuteScalarAsync<long>("SELECT MAX(seq) FROM events WHERE run_id = @id AND type = 'log'", new { id }));
        Assert.Contains($"data-after=\"{last}\"", logs.Html, StringComparison.Ordinal);

        var events = await browser.GetAsync($"/runs/{id}?tab=events");
        Selected(events, "events");
        Assert.Contains("<code>run.completed</code>", events.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<code>log</code>", events.Html, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/dashboard/logs.js")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/runs/run_nope?tab=logs")).Status);
    }

    [Fact]
    public async Task Tabs_without_data_say_what_comes_next()
    {
        var run = await CompletedAsync();
        var id = run.RunId;
        // A finished run is never written again: without its executions and log lines it looks like a run that has none yet.
        await factory.Service<Database>().WriteAsync((c, tx) => c.ExecuteAsync(
            "DELETE FROM executions WHERE run_id = @id; DELETE FROM events WHERE run_id = @id AND type = 'log'", new { id }, tx));
        using var browser = await SignedInAsync("viewer");

        var metrics = await browser.GetAsync($"/runs/{id}?tab=metrics");
        Selected(metrics, "metrics");
        Assert.Contains("No executions yet: cost, tokens and duration per phase appear once a phase has run.", metrics.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"bar-chart\"", metrics.Html, StringComparison.Ordinal);

        var logs = await browser.GetAsync($"/runs/{id}?tab=logs");
        Selected(logs, "logs");
        Assert.Contains("No log lines yet", logs.Html, StringComparison.Ordinal);
        using var text = await browser.Raw.GetAsync($"/runs/{id}/logs.txt");
        Assert.Equal(HttpStatusCode.OK, text.StatusCode);
        Assert.Equal("", await text.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_whole_log_downloads_as_text()
    {
        var run = await CompletedAsync();
        using var browser = await SignedInAsync("viewer");
        using var response = await browser.Raw.GetAsync($"/runs/{run.RunId}/logs.txt");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal($"{run.RunId}.log.txt", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName);
        var text = await response.Content.ReadAsStringAsync();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = await _admin.GetLogsAsync(run.RunId, 10_000);
        Assert.Equal(expected.Lines.Count, lines.Length);
        Assert.Contains(lines, l => l.Contains(" info  [two#1] rendered two.md", StringComparison.Ordinal));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", lines[0]);

        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/runs/run_nope/logs.txt")).Status);
        using var anonymous = new Browser(factory);
        var signedOut = await anonymous.GetAsync($"/runs/{run.RunId}/logs.txt");
        Assert.Equal(HttpStatusCode.Redirect, signedOut.Status);
        Assert.Contains("/signin", signedOut.Location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_page_back_and_a_bad_before_shows_the_newest_page_with_a_note()
    {
        var run = await CompletedAsync();
        var id = run.RunId;
        var db = factory.Service<Database>();
        // More events than a page holds.
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            "INSERT INTO events(run_id, type, data, created_at) VALUES (@id, 'test.filler', @data, 0)",
            Enumerable.Range(0, 60).Select(i => new { id, data = new JsonParameter($"{{\"n\": {i}}}") }), tx));
        // Written behind the engine's back: on PostgreSQL they get their ids now, as after any write (ADR 27).
        await factory.Service<EventSequencer>().CatchUpAsync(CancellationToken.None);
        using var browser = await SignedInAsync("viewer");

        var newest = await browser.GetAsync($"/runs/{id}?tab=events");
        Selected(newest, "events");
        Assert.Equal(50, Regex.Matches(newest.Html, "<code>[a-z_.]+</code>").Count);
        var older = Regex.Match(newest.Html, $"href=\"(/runs/{id}\\?tab=events&amp;before=(\\d+))\" rel=\"next\"");
        Assert.True(older.Success, "an Older link");
        Assert.DoesNotContain("<code>run.completed</code>", newest.Html, StringComparison.Ordinal);

        var second = await browser.GetAsync(WebUtility.HtmlDecode(older.Groups[1].Value));
        Selected(second, "events");
        Assert.Contains("<code>run.completed</code>", second.Html, StringComparison.Ordinal);
        Assert.Contains($"<td class=\"num\">{long.Parse(older.Groups[2].Value, CultureInfo.InvariantCulture) - 1}</td>", second.Html, StringComparison.Ordinal);
        Assert.Contains(">Newest</a>", second.Html, StringComparison.Ordinal);

        foreach (var bad in new[] { "abc", "-4", "0", "99999999999999999999999" })
        {
            var page = await browser.GetAsync($"/runs/{id}?tab=events&before={Uri.EscapeDataString(bad)}");
            Selected(page, "events");
            Assert.Contains($"&#x27;{WebUtility.HtmlEncode(bad)}&#x27; is not an event number; showing the newest events.", page.Html, StringComparison.Ordinal);
            Assert.Equal(50, Regex.Matches(page.Html, "<code>[a-z_.]+</code>").Count);
        }

        var beforeAll = await browser.GetAsync($"/runs/{id}?tab=events&before=1");
        Assert.Equal(HttpStatusCode.OK, beforeAll.Status);
        Assert.Contains("No older events.", beforeAll.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_timeline_shows_waiting_at_the_gate_and_iteration_2_after_a_rejection()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("viewer");
        var atGate = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("class=\"tl-wait tl-open\"><title>draft #1: waiting ", atGate.Html, StringComparison.Ordinal);
        Assert.Contains("role=\"img\" aria-label=\"Phase timeline: 1 phase execution over ", atGate.Html, StringComparison.Ordinal);

        await _admin.RejectAsync(run.RunId, "More detail", "draft");
        await _admin.WaitForGateAsync(run.RunId, "draft", 2);
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("class=\"tl-wait tl-rejected\"><title>draft #1: waited ", page.Html, StringComparison.Ordinal);
        Assert.Contains(">draft #2</text>", page.Html, StringComparison.Ordinal);
        Assert.Contains("class=\"tl-wait tl-open\"><title>draft #2: waiting ", page.Html, StringComparison.Ordinal);
        Assert.Contains("waiting at gates; 1 rejection.", page.Html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"small\">More detail</td>", page.Html, StringComparison.Ordinal);

        // Two versions of the draft: the Artifacts tab links both and their comparison.
        var artifacts = await browser.GetAsync($"/runs/{run.RunId}?tab=artifacts");
        Assert.Contains($"href=\"/runs/{run.RunId}/artifacts/draft.md?iteration=2\"", artifacts.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{run.RunId}/artifacts/draft.md/compare?from=1&amp;to=2\"", artifacts.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_may_not_approve_and_a_post_without_a_token_is_refused()
    {
        var run = await AtGateAsync();
        using var viewer = await SignedInAsync("viewer");
        var page = await viewer.GetAsync($"/runs/{run.RunId}");
        Assert.DoesNotContain("action-approve", page.Html, StringComparison.Ordinal);
        var posted = await viewer.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = run.Version.ToString(CultureInfo.InvariantCulture) });
        Assert.Equal(HttpStatusCode.Forbidden, posted.Status);

        using var approver = await SignedInAsync("approver");
        var form = await approver.GetAsync($"/runs/{run.RunId}");
        var noToken = await approver.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = form.Version }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.Status);
        Assert.Contains("Form expired", noToken.Html, StringComparison.Ordinal);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task Bad_reject_input_comes_back_on_the_phases_tab_with_the_input_kept()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}?tab=logs");

        var empty = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = page.Version, ["feedback"] = " ", ["reject_to"] = "draft" });
        Selected(empty, "phases", HttpStatusCode.BadRequest);
        Assert.Contains("role=\"alert\" id=\"form-message\">Feedback is required to reject: tell the agent what to change.", empty.Html, StringComparison.Ordinal);
        Assert.Matches("id=\"reject-feedback\"[^>]*aria-invalid=\"true\" aria-describedby=\"form-message\"", empty.Html);
        Assert.Contains("<option value=\"draft\" selected", empty.Html, StringComparison.Ordinal);

        var unknown = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = empty.Version, ["feedback"] = "Keep <this> text", ["reject_to"] = "publish" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.Contains("The run cannot be sent back there: &#x27;publish&#x27; is not allowed at the draft gate; allowed: draft.", unknown.Html, StringComparison.Ordinal);
        Assert.Contains(">Keep &lt;this&gt; text</textarea>", unknown.Html, StringComparison.Ordinal);
        Assert.Matches("id=\"reject-to\"[^>]*aria-invalid=\"true\"", unknown.Html);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);

        var stale = (long.Parse(empty.Version, CultureInfo.InvariantCulture) - 1).ToString(CultureInfo.InvariantCulture);
        var conflict = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = stale, ["feedback"] = "Too late", ["reject_to"] = "draft" });
        Assert.Equal(HttpStatusCode.Conflict, conflict.Status);
        Assert.Contains("The run changed: it is now awaiting approval. Check the page and decide again.", conflict.Html, StringComparison.Ordinal);
        Assert.Contains(">Too late</textarea>", conflict.Html, StringComparison.Ordinal);

        var noVersion = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, noVersion.Status);
        Assert.Contains("reload the page", noVersion.Html, StringComparison.Ordinal);

        var rejected = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = conflict.Version, ["feedback"] = "More detail", ["reject_to"] = "draft" });
        Assert.Equal(HttpStatusCode.Redirect, rejected.Status);
        Assert.Equal($"/runs/{run.RunId}", rejected.Location);
        await _admin.WaitForGateAsync(run.RunId, "draft", 2);
    }

    [Fact]
    public async Task An_approver_approves_and_is_sent_back_to_the_run()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = page.Version, ["comment"] = "fine" });
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        Assert.Equal($"/runs/{run.RunId}", posted.Location);
        var done = await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal("fine", done.Phases.Single(p => p.Name == "draft").Approval?.Comment);
        var after = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("approved by ", after.Html, StringComparison.Ordinal);
        Assert.Contains("class=\"tl-wait\"><title>draft #1: waited ", after.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_an_approver_may_skip_validation_on_next()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("stepwise", "Step by step"));
        await _admin.WaitForStatusAsync(run.RunId, "paused");
        using var operatorBrowser = await SignedInAsync("operator");
        var page = await operatorBrowser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("action-next", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"skip_validation\"", page.Html, StringComparison.Ordinal);
        var skipped = await operatorBrowser.PostAsync($"/runs/{run.RunId}/next",
            new Dictionary<string, string> { ["version"] = page.Version, ["skip_validation"] = "true" });
        Assert.Equal(HttpStatusCode.BadRequest, skipped.Status);
        Assert.Contains("Skipping validation needs the approver role.", skipped.Html, StringComparison.Ordinal);

        var next = await operatorBrowser.PostAsync($"/runs/{run.RunId}/next", new Dictionary<string, string> { ["version"] = skipped.Version });
        Assert.Equal(HttpStatusCode.Redirect, next.Status);
        Assert.Equal($"/runs/{run.RunId}", next.Location);

        using var approver = await SignedInAsync("approver");
        await _admin.WaitForAsync(run.RunId, r => r.Status == "paused" && r.CurrentPhase == "second", "paused at second");
        Assert.Contains("name=\"skip_validation\"", (await approver.GetAsync($"/runs/{run.RunId}")).Html, StringComparison.Ordinal);
    }
}
