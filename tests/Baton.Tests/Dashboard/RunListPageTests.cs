using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

public partial class RunListPageTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role, "/");

    private static string Project(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    private async Task<RunDetail> CompletedAsync(string project) =>
        await _admin.WaitForStatusAsync((await _admin.CreateRunAsync(new CreateRunRequest("straight", "list me", project))).RunId, "completed");

    private async Task<RunDetail> AtGateAsync(string project) =>
        await _admin.WaitForGateAsync((await _admin.CreateRunAsync(new CreateRunRequest("gated", "gate me", project))).RunId, "draft", 1);

    /// <summary>The bulk checkbox values ("run_x:version") of a list page.</summary>
    private static Dictionary<string, string> Selections(Page page) => SelectionValue().Matches(page.Html)
        .ToDictionary(m => m.Groups[1].Value, m => m.Groups[0].Value["value=\"".Length..^1]);

    [GeneratedRegex("value=\"(run_[0-9a-z]+):\\d+\"")]
    private static partial Regex SelectionValue();

    [Fact]
    public async Task The_list_has_the_search_box_new_run_link_script_and_filters_by_text()
    {
        var project = Project("searchable");
        var first = await CompletedAsync(project);
        var second = await CompletedAsync(project);
        var other = await CompletedAsync(Project("elsewhere"));
        using var browser = await SignedInAsync("operator");

        var all = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Contains("data-search", all.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"/runs/new\" data-new-run", all.Html, StringComparison.Ordinal);
        Assert.Contains("src=\"/dashboard/runs.js\"", all.Html, StringComparison.Ordinal);
        Assert.Contains("<time datetime=", all.Html, StringComparison.Ordinal);
        Assert.True(all.Html.IndexOf(second.RunId, StringComparison.Ordinal) < all.Html.IndexOf(first.RunId, StringComparison.Ordinal), "newest first");

        var byProject = await browser.GetAsync("/?q=" + project[..14].ToUpperInvariant());
        Assert.Contains(first.RunId, byProject.Html, StringComparison.Ordinal);
        Assert.Contains(second.RunId, byProject.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(other.RunId, byProject.Html, StringComparison.Ordinal);
        Assert.Contains($"value=\"{project[..14].ToUpperInvariant()}\"", byProject.Html, StringComparison.Ordinal);

        var byIdPart = await browser.GetAsync("/?q=" + first.RunId[6..]);
        Assert.Contains(first.RunId, byIdPart.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(second.RunId, byIdPart.Html, StringComparison.Ordinal);

        var byWholeId = await browser.GetAsync($"/?q={other.RunId}");
        Assert.Contains(other.RunId, byWholeId.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(first.RunId, byWholeId.Html, StringComparison.Ordinal);

        // LIKE's wildcards are plain characters in a search.
        var wildcard = await browser.GetAsync("/?q=%25");
        Assert.Contains("No runs match these filters.", wildcard.Html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/\">Clear the filters</a>", wildcard.Html, StringComparison.Ordinal);

        var combined = await browser.GetAsync($"/?q={project}&status=failed");
        Assert.DoesNotContain(first.RunId, combined.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Counts_per_status_are_links_that_filter()
    {
        var project = Project("counted");
        var done = await CompletedAsync(project);
        var gated = await AtGateAsync(project);
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync($"/?project={project}");
        Assert.Contains($"href=\"/?status=completed&amp;project={project}\"", page.Html, StringComparison.Ordinal);
        Assert.Matches($"href=\"/\\?status=awaiting_approval&amp;project={project}\"><span class=\"status status-awaiting_approval\">awaiting approval</span> <b>1</b>", page.Html);
        Assert.Contains("all <b>2</b>", page.Html, StringComparison.Ordinal);

        var waiting = await browser.GetAsync($"/?status=awaiting_approval&project={project}");
        Assert.Contains(gated.RunId, waiting.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(done.RunId, waiting.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"awaiting_approval\" selected>", waiting.Html, StringComparison.Ordinal);

        // Searching counts the matches, per status, the same way.
        var searched = await browser.GetAsync($"/?q={project}");
        Assert.Contains("all <b>2</b>", searched.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_list_pages_newest_first_and_says_when_a_page_is_past_the_end()
    {
        var project = Project("paged");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await _admin.CreateRunAsync(new CreateRunRequest("straight", "page " + i, project))).RunId);
        }
        using var browser = await SignedInAsync("viewer");
        var first = await browser.GetAsync($"/?project={project}&limit=2");
        Assert.Contains(ids[2], first.Html, StringComparison.Ordinal);
        Assert.Contains(ids[1], first.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(ids[0], first.Html, StringComparison.Ordinal);
        Assert.Contains("1–2 of 3", first.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/?project={project}&amp;limit=2&amp;offset=2\" rel=\"next\"", first.Html, StringComparison.Ordinal);
        Assert.Contains("data-first-page=\"true\"", first.Html, StringComparison.Ordinal);

        var second = await browser.GetAsync($"/?project={project}&limit=2&offset=2");
        Assert.Contains(ids[0], second.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/?project={project}&amp;limit=2\" rel=\"prev\"", second.Html, StringComparison.Ordinal);
        Assert.Contains("data-first-page=\"false\"", second.Html, StringComparison.Ordinal);

        var past = await browser.GetAsync($"/?project={project}&offset=500");
        Assert.Equal(HttpStatusCode.OK, past.Status);
        Assert.Contains("This page is past the last run.", past.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("status=bogus", "There is no status &#x27;bogus&#x27;")]
    [InlineData("limit=abc", "The page size must be a whole number from 1 to 200")]
    [InlineData("limit=0", "The page size must be a whole number from 1 to 200")]
    [InlineData("limit=999", "The page size must be a whole number from 1 to 200")]
    [InlineData("offset=-1", "The offset must be a whole number from 0")]
    [InlineData("offset=99999999999999", "The offset must be a whole number from 0")]
    [InlineData("offset=1e3", "The offset must be a whole number from 0")]
    [InlineData("status=running&status=failed", "There is no status &#x27;running,failed&#x27;")]
    [InlineData("limit=5&limit=6", "The page size must be a whole number from 1 to 200")]
    public async Task Bad_query_values_give_a_note_not_an_error(string query, string note)
    {
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync("/?" + query);
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains(note, page.Html, StringComparison.Ordinal);
        Assert.Contains("role=\"alert\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_huge_search_is_ignored_with_a_note()
    {
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync("/?q=" + new string('x', 5000));
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("The search text is longer than 200 characters, so it was ignored.", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Parsing_keeps_good_values_and_notes_bad_ones()
    {
        var good = RunListQuery.Parse("running", " p ", "", "  abc ", "20", "40");
        Assert.Equal(("running", " p ", (string?)null, "abc", 20, 40), (good.Status, good.Profile, good.Project, good.Search, good.Limit, good.Offset));
        Assert.Empty(good.Notes);
        Assert.Equal("/?status=failed&profile=%20p%20&q=abc&limit=20&offset=60", good.Link("failed", 60));
        Assert.Equal("/", RunListQuery.Parse(null, null, null, null, null, null).Link(0));

        var bad = RunListQuery.Parse("nope", null, new string('p', 201), null, "-5", "x");
        Assert.Equal((null, null, 50, 0), (bad.Status, bad.Project, bad.Limit, bad.Offset));
        Assert.Equal(4, bad.Notes.Count);
    }

    [Fact]
    public async Task The_list_script_is_served_and_listens_to_the_dashboard_stream()
    {
        using var browser = new Browser(factory);
        var script = await browser.GetAsync("/dashboard/runs.js");
        Assert.Equal(HttpStatusCode.OK, script.Status);
        Assert.Equal("text/javascript", script.MediaType);
        Assert.Contains("new EventSource(\"/events\")", script.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("\"log\"", script.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_event_stream_takes_the_cookie_and_sends_every_runs_events()
    {
        using var browser = await SignedInAsync("viewer");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await browser.Raw.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token), (_, data) => JsonDocument.Parse(data.ToArray()).RootElement)
            .EnumerateAsync(cts.Token);

        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "stream me", Project("streamed")));
        var types = new List<string>();
        await foreach (var e in events)
        {
            if (e.Data.GetProperty("run_id").GetString() == run.RunId)
            {
                types.Add(e.Data.GetProperty("type").GetString()!);
                if (types[^1] == "run.completed")
                {
                    break;
                }
            }
        }
        Assert.Equal("run.created", types[0]);
        Assert.Contains("run.completed", types);
        // The run's agents logged, but the list has no use for log lines: they stay off this stream.
        Assert.NotEmpty((await _admin.GetLogsAsync(run.RunId)).Lines);
        Assert.DoesNotContain("log", types);
    }

    [Fact]
    public async Task A_viewer_sees_no_bulk_form_and_may_not_post_one()
    {
        var project = Project("viewed");
        var run = await AtGateAsync(project);
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync($"/?project={project}");
        Assert.Contains(run.RunId, page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("action=\"/runs/bulk\"", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-new-run", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("type=\"checkbox\"", page.Html, StringComparison.Ordinal);
        var posted = await browser.PostAsync("/runs/bulk", new Dictionary<string, string> { ["action"] = "cancel", ["run"] = $"{run.RunId}:{run.Version}" });
        Assert.Equal(HttpStatusCode.Forbidden, posted.Status);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task Bulk_cancel_cancels_what_it_can_and_says_what_it_skipped()
    {
        var project = Project("cancelled");
        var a = await AtGateAsync(project);
        var b = await AtGateAsync(project);
        var done = await CompletedAsync(project);
        using var browser = await SignedInAsync("operator");
        var page = await browser.GetAsync($"/?project={project}");
        Assert.Contains("Cancel selected", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Approve selected", page.Html, StringComparison.Ordinal);
        Assert.Contains($"<label for=\"select-{a.RunId}\" class=\"visually-hidden\">Select {a.RunId}</label>", page.Html, StringComparison.Ordinal);
        Assert.Contains("data-select-all", page.Html, StringComparison.Ordinal);
        var selections = Selections(page);

        using var content = new FormUrlEncodedContent(
        [
            new("__csrf", browser.Token!), new("action", "cancel"), new("return", $"/?project={project}"),
            new("run", selections[a.RunId]), new("run", selections[b.RunId]), new("run", selections[done.RunId]), new("run", "run_nope:3"),
        ]);
        using var response = await browser.Raw.PostAsync("/runs/bulk", content);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/?project={project}", response.Headers.Location?.ToString());
        Assert.Equal("cancelled", (await _admin.GetRunAsync(a.RunId)).Status);
        Assert.Equal("cancelled", (await _admin.GetRunAsync(b.RunId)).Status);

        var after = await browser.GetAsync($"/?project={project}");
        Assert.Contains($"2 cancelled; 2 skipped: {done.RunId} is completed, run_nope does not exist.", after.Html, StringComparison.Ordinal);
        // Said once: a reload shows the list without it.
        Assert.DoesNotContain("2 cancelled", (await browser.GetAsync($"/?project={project}")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bulk_approve_needs_an_approver_and_skips_runs_that_changed()
    {
        var project = Project("approved");
        var fresh = await AtGateAsync(project);
        var stale = await AtGateAsync(project);
        using var operatorBrowser = await SignedInAsync("operator");
        var operatorPage = await operatorBrowser.GetAsync($"/?project={project}");
        var forbidden = await operatorBrowser.PostAsync("/runs/bulk", new Dictionary<string, string> { ["action"] = "approve", ["run"] = Selections(operatorPage)[fresh.RunId] });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(fresh.RunId)).Status);

        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/?project={project}");
        Assert.Contains("Approve selected", page.Html, StringComparison.Ordinal);
        var selections = Selections(page);
        await _admin.CancelAsync(stale.RunId, "changed under the page");

        using var content = new FormUrlEncodedContent(
        [
            new("__csrf", browser.Token!), new("action", "approve"), new("run", selections[fresh.RunId]), new("run", selections[stale.RunId]),
        ]);
        using var response = await browser.Raw.PostAsync("/runs/bulk", content);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.ToString());
        await _admin.WaitForAsync(fresh.RunId, r => r.Status != "awaiting_approval" || r.CurrentPhase != "draft", "past the draft gate");
        var after = await browser.GetAsync("/");
        Assert.Contains($"1 approved; 1 skipped: {stale.RunId} changed since the list was loaded (it is now cancelled).", after.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cancel", "", "No runs were selected")]
    [InlineData("", "run_x:1", "The form did not say what to do")]
    [InlineData("delete", "run_x:1", "Unknown action")]
    [InlineData("cancel", "run_x", "which version of each run")]
    [InlineData("cancel", "run_x:v2", "which version of each run")]
    public async Task Bad_bulk_posts_are_400_with_a_message(string action, string run, string message)
    {
        using var browser = await SignedInAsync("operator");
        var posted = await browser.PostAsync("/runs/bulk", new Dictionary<string, string> { ["action"] = action, ["run"] = run });
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains(message, posted.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bulk_posts_need_the_antiforgery_token_and_at_most_200_runs()
    {
        var project = Project("guarded");
        var run = await AtGateAsync(project);
        using var browser = await SignedInAsync("operator");
        var noToken = await browser.PostAsync("/runs/bulk", new Dictionary<string, string> { ["action"] = "cancel", ["run"] = $"{run.RunId}:{run.Version}" }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.Status);
        Assert.Contains("Form expired", noToken.Html, StringComparison.Ordinal);

        var many = Enumerable.Range(0, 201).Select(i => new KeyValuePair<string, string>("run", $"run_{i}:1")).Prepend(new("action", "cancel")).Prepend(new("__csrf", browser.Token!));
        using var content = new FormUrlEncodedContent(many);
        using var response = await browser.Raw.PostAsync("/runs/bulk", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("201 runs were selected; at most 200 can be changed at once.", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Past the framework's own form limits too: a clear 400, not a 500.
        var tooMany = Enumerable.Range(0, 2000).Select(i => new KeyValuePair<string, string>("run", $"run_{i}:1")).Prepend(new("action", "cancel")).Prepend(new("__csrf", browser.Token!));
        using var huge = new FormUrlEncodedContent(tooMany);
        using var refused = await browser.Raw.PostAsync("/runs/bulk", huge);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("at most 200 runs can be changed at once", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public void The_bulk_summary_names_the_first_ten_skipped_runs()
    {
        var outcomes = Enumerable.Range(0, 12).Select(i => new BulkOutcome($"run_{i}", false, $"run_{i} is completed"))
            .Append(new BulkOutcome("run_ok", true, null)).ToList();
        var summary = BulkOutcome.Summary(BulkAction.Cancel, outcomes);
        Assert.StartsWith("1 cancelled; 12 skipped: run_0 is completed, run_1 is completed", summary, StringComparison.Ordinal);
        Assert.EndsWith("run_9 is completed and 2 more.", summary, StringComparison.Ordinal);
        Assert.Equal("None approved; 1 skipped: run_0 is completed.", BulkOutcome.Summary(BulkAction.Approve, outcomes.Take(1).ToList()));
        Assert.Equal("/", RunListEndpoints.ReturnUrl("https://evil.example/"));
        Assert.Equal("/", RunListEndpoints.ReturnUrl("//evil.example/"));
        Assert.Equal("/?q=x", RunListEndpoints.ReturnUrl("/?q=x"));
    }

    [Fact]
    public async Task An_empty_list_says_how_to_start_and_a_search_at_many_runs_says_how_far_it_looked()
    {
        using var own = new BatonFactory(profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight });
        var client = own.Client();
        using var browser = new Browser(own);
        await browser.SignInAsync(BatonFactory.AdminToken);
        var empty = await browser.GetAsync("/");
        Assert.Contains("<strong>No runs yet.</strong>", empty.Html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/runs/new\">New run</a>", empty.Html, StringComparison.Ordinal);
        Assert.Contains("baton run create --profile", empty.Html, StringComparison.Ordinal);

        var oldest = await client.CreateRunAsync(new CreateRunRequest("straight", "old", "needle-project"));
        var db = own.Service<Baton.Storage.Database>();
        // Copies of the oldest run, newer than it, enough to push it out of the search window.
        await db.WriteAsync(async (c, tx) =>
        {
            for (var i = 0; i < RunListEndpoints.SearchWindow; i++)
            {
                await Dapper.SqlMapper.ExecuteAsync(c,
                    "INSERT INTO runs(id, profile, profile_hash, project_name, status, mode, iteration, created_at, updated_at) " +
                    "SELECT @id, profile, profile_hash, 'hay', 'completed', mode, 1, created_at + 1 + @i, updated_at FROM runs WHERE id = @oldest",
                    new { id = $"run_hay{i:00000}", i, oldest = oldest.RunId }, tx);
            }
        });
        var searched = await browser.GetAsync("/?q=needle");
        Assert.Equal(HttpStatusCode.OK, searched.Status);
        Assert.Contains("The search looked through the newest 10,000 runs only.", searched.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(oldest.RunId, searched.Html, StringComparison.Ordinal);
        // Narrowed by project, or by the whole id, the old run is found.
        Assert.Contains(oldest.RunId, (await browser.GetAsync("/?q=needle&project=needle-project")).Html, StringComparison.Ordinal);
        Assert.Contains(oldest.RunId, (await browser.GetAsync($"/?q={oldest.RunId}")).Html, StringComparison.Ordinal);
    }
}
