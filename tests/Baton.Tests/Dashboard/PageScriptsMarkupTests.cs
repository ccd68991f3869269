using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Dashboard;

/// <summary>
/// What the server renders for the pages' scripts and assistive technology: whether a run can still change, the
/// page's own address (also after a POST), the keyboard help by role, and labelled sections instead of labelled pre.
/// </summary>
public class PageScriptsMarkupTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role);

    private static string ReturnOf(Page page) =>
        WebUtility.HtmlDecode(Regex.Match(page.Html, "name=\"return\" value=\"([^\"]*)\"").Groups[1].Value);

    private static string LiveUrlOf(Page page) =>
        WebUtility.HtmlDecode(Regex.Match(page.Html, "id=\"live\"[^>]* data-url=\"([^\"]*)\"").Groups[1].Value);

    [Theory]
    [InlineData(RunStatus.Pending, false)]
    [InlineData(RunStatus.Running, false)]
    [InlineData(RunStatus.AwaitingApproval, false)]
    [InlineData(RunStatus.Paused, false)]
    [InlineData(RunStatus.Failed, false)]
    [InlineData(RunStatus.Completed, true)]
    [InlineData(RunStatus.Cancelled, true)]
    [InlineData(RunStatus.Expired, true)]
    public void Only_completed_cancelled_and_expired_runs_are_finished_for_good(RunStatus status, bool finished)
    {
        Assert.Equal(finished, status.IsFinishedForGood());
        Assert.Equal(finished, StateNames.IsFinishedForGood(status.Wire()));
    }

    [Fact]
    public void An_unknown_status_is_not_finished_for_good() => Assert.False(StateNames.IsFinishedForGood("done"));

    [Fact]
    public async Task A_failed_run_page_keeps_listening_and_its_stream_stays_open_for_a_retry()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("handoff", "x"));
        await _admin.WaitForAsync(run.RunId, r => r.CurrentPhase == "build" && r.WaitingFor == "external", "waiting for the external build");
        await _admin.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "failed"));
        using var browser = await SignedInAsync("viewer");

        var page = await browser.GetAsync($"/runs/{run.RunId}?tab=logs");
        Assert.Contains("data-status=\"failed\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("data-finished=\"false\"", page.Html, StringComparison.Ordinal);

        // The stream goes on past run.failed: the retry arrives on it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<string>();
        await foreach (var e in _admin.StreamRunEventsAsync(run.RunId, ct: timeout.Token))
        {
            seen.Add(e.Type);
            if (e.Type == "run.failed")
            {
                await _admin.RetryAsync(run.RunId, ct: timeout.Token);
            }
            if (e.Type == "run.retried")
            {
                break;
            }
        }
        Assert.Equal(["run.failed", "run.retried"], seen.Where(t => t is "run.failed" or "run.retried"));
    }

    [Fact]
    public async Task A_finished_run_page_says_so_and_has_no_live_tail_note()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "x"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        using var browser = await SignedInAsync("viewer");

        var page = await browser.GetAsync($"/runs/{run.RunId}?tab=logs");

        Assert.Contains("data-finished=\"true\"", page.Html, StringComparison.Ordinal);
        Assert.Equal($"/runs/{run.RunId}?tab=logs", LiveUrlOf(page));
        Assert.Equal($"/runs/{run.RunId}?tab=logs", ReturnOf(page));
    }

    [Fact]
    public async Task A_run_page_rendered_for_a_post_gives_its_own_address_to_live_refresh_and_the_theme_form()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", "Write the draft."));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}?tab=metrics");
        Assert.Equal($"/runs/{run.RunId}?tab=metrics", LiveUrlOf(page));
        Assert.Contains("data-finished=\"false\"", page.Html, StringComparison.Ordinal);

        var refused = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = page.Version, ["feedback"] = " ", ["reject_to"] = "draft" });

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal($"/runs/{run.RunId}?tab=phases", LiveUrlOf(refused));
        Assert.Equal($"/runs/{run.RunId}?tab=phases", ReturnOf(refused));

        var events = await browser.GetAsync($"/runs/{run.RunId}?tab=events&before=3");
        Assert.Equal($"/runs/{run.RunId}?tab=events&before=3", LiveUrlOf(events));
    }

    [Fact]
    public async Task A_page_rendered_for_a_post_without_its_own_address_returns_the_theme_form_to_the_runs_list()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", "Write the draft."));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);
        using var browser = await SignedInAsync("approver");
        await browser.GetAsync($"/runs/{run.RunId}");

        var expired = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = "1" }, withToken: false);

        Assert.Equal(HttpStatusCode.BadRequest, expired.Status);
        Assert.Contains("Form expired", expired.Html, StringComparison.Ordinal);
        Assert.Equal("/", ReturnOf(expired));
    }

    [Fact]
    public async Task The_theme_form_returns_to_a_path_with_non_ascii_letters_encoded()
    {
        using var browser = await SignedInAsync("viewer");
        const string Path = "/runs/r%C3%A9sum%C3%A9?tab=%C3%A9t%C3%A9";

        var page = await browser.GetAsync(Path);
        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Equal(Path, ReturnOf(page));

        var chosen = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark", ["return"] = ReturnOf(page) });
        Assert.Equal(HttpStatusCode.Redirect, chosen.Status);
        Assert.Equal(Path, chosen.Location);
    }

    [Fact]
    public async Task The_runs_list_bulk_form_returns_to_the_list_with_its_query_encoded()
    {
        var project = $"résumé-{Guid.NewGuid():N}"[..16];
        await _admin.CreateRunAsync(new CreateRunRequest("gated", "x", ProjectName: project));
        using var browser = await SignedInAsync("operator");
        var path = "/?q=" + Uri.EscapeDataString(project);

        var page = await browser.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, page.Status);
        var bulk = Regex.Match(page.Html, "<form method=\"post\" action=\"/runs/bulk\"[\\s\\S]*?name=\"return\" value=\"([^\"]*)\"");
        Assert.True(bulk.Success, "the bulk form");
        Assert.Equal(path, WebUtility.HtmlDecode(bulk.Groups[1].Value));
    }

    [Fact]
    public async Task The_keyboard_help_lists_g_k_for_admins_only_and_no_tab_arrows()
    {
        using var viewer = await SignedInAsync("viewer");
        using var admin = await SignedInAsync("admin");
        const string KeysShortcut = "<kbd>g</kbd> <kbd>k</kbd></dt><dd>API keys</dd>";

        var asViewer = await viewer.GetAsync("/profiles");
        var asAdmin = await admin.GetAsync("/profiles");

        Assert.DoesNotContain(KeysShortcut, asViewer.Html, StringComparison.Ordinal);
        Assert.Contains(KeysShortcut, asAdmin.Html, StringComparison.Ordinal);
        Assert.Contains("<kbd>g</kbd> <kbd>p</kbd></dt><dd>profiles</dd>", asViewer.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("move between tabs", asAdmin.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execution_and_profile_pages_label_sections_not_pre_and_write_log_lines_as_the_run_page_does()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "x"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var execution = await factory.Service<Database>().ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT id FROM executions WHERE run_id = @RunId AND phase = 'two'", run));
        using var browser = await SignedInAsync("viewer");

        var page = await browser.GetAsync($"/executions/{execution}");
        var runLogs = await browser.GetAsync($"/runs/{run.RunId}?tab=logs");
        var profile = await browser.GetAsync("/profiles/straight");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("<section aria-labelledby=\"log-h\">", page.Html, StringComparison.Ordinal);
        Assert.Contains("<section aria-labelledby=\"yaml-h\">", profile.Html, StringComparison.Ordinal);
        Assert.DoesNotMatch("<pre[^>]*aria-labelledby", page.Html);
        Assert.DoesNotMatch("<pre[^>]*aria-labelledby", profile.Html);
        var line = Regex.Match(page.Html, "<span class=\"log-info\">([^<]*\\[two#1\\] rendered two\\.md[^<]*)</span>");
        Assert.True(line.Success, "the execution's log line");
        Assert.Matches(@"^\d\d:\d\d:\d\d info  \[two#1\] rendered two\.md", line.Groups[1].Value);
        Assert.Contains($"<li>{line.Groups[1].Value}</li>", runLogs.Html, StringComparison.Ordinal);
    }
}
