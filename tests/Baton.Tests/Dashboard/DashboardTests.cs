using System.Net;
using System.Net.ServerSentEvents;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

public class DashboardTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private async Task<string> KeyAsync(string role)
    {
        var created = await _admin.CreateKeyAsync(new CreateKeyRequest($"dash-{role}-{Guid.NewGuid():N}", role));
        return created.Token;
    }

    private async Task<Browser> SignedInAsync(string role)
    {
        var browser = new Browser(factory);
        var signedIn = await browser.SignInAsync(await KeyAsync(role));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        await browser.GetAsync("/");
        return browser;
    }

    private async Task<RunDetail> AtGateAsync(string intake = "Write the draft.")
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", intake));
        return await _admin.WaitForGateAsync(run.RunId, "draft", 1);
    }

    [Fact]
    public async Task A_signed_out_page_request_redirects_to_sign_in()
    {
        using var browser = new Browser(factory);
        var page = await browser.GetAsync("/runs/run_x");
        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Contains("/signin?return=%2Fruns%2Frun_x", page.Location, StringComparison.Ordinal);

        var signin = await browser.GetAsync("/signin");
        Assert.Equal(HttpStatusCode.OK, signin.Status);
        Assert.Contains("<label for=\"api_key\">API key</label>", signin.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/?q=x")]
    [InlineData("/events")]
    [InlineData("/runs/new")]
    [InlineData("/runs/run_x?tab=logs")]
    [InlineData("/runs/run_x/logs.txt")]
    [InlineData("/runs/run_x/events")]
    [InlineData("/runs/run_x/artifacts/a.md")]
    [InlineData("/runs/run_x/artifacts/a.md/compare?from=1&to=2")]
    [InlineData("/runs/run_x/artifacts/a.md/raw")]
    [InlineData("/executions")]
    [InlineData("/executions/exe_x")]
    [InlineData("/workspaces")]
    [InlineData("/profiles")]
    [InlineData("/profiles/gated")]
    [InlineData("/keys")]
    [InlineData("/keys/key_x/revoke")]
    public async Task Signed_out_every_page_redirects_to_sign_in_and_back(string path)
    {
        using var browser = new Browser(factory);

        var page = await browser.GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Contains("/signin?return=" + Uri.EscapeDataString(path), page.Location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_key_re_renders_the_form_with_an_error()
    {
        using var browser = new Browser(factory);
        var page = await browser.SignInAsync("bat_not-a-key");
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("That key is unknown, revoked or expired.", page.Html, StringComparison.Ordinal);
        Assert.Contains("action=\"/signin\"", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(page.Cookies, c => c.StartsWith(DashboardAuth.CookieName, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_good_key_sets_a_cookie_and_the_runs_list_shows_runs()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "List me", "dash-list"));
        using var browser = new Browser(factory);
        var signedIn = await browser.SignInAsync(await KeyAsync("viewer"));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        Assert.Equal("/", signedIn.Location);
        var cookie = Assert.Single(signedIn.Cookies, c => c.StartsWith(DashboardAuth.CookieName + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);

        var list = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal("text/html", list.MediaType);
        Assert.Contains($"href=\"/runs/{run.RunId}\"", list.Html, StringComparison.Ordinal);

        var filtered = await browser.GetAsync("/?project=dash-list&status=");
        Assert.Contains(run.RunId, filtered.Html, StringComparison.Ordinal);
        var none = await browser.GetAsync("/?project=no-such-project");
        Assert.Contains("No runs match these filters.", none.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_run_page_shows_phases_and_artifacts()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "# Ship it"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        using var browser = await SignedInAsync("viewer");

        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        foreach (var phase in new[] { "one", "two", "three" })
        {
            Assert.Contains($"<td>{phase}</td>", page.Html, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("action-cancel", page.Html, StringComparison.Ordinal);
        var artifacts = await browser.GetAsync($"/runs/{run.RunId}?tab=artifacts");
        Assert.Contains($"href=\"/runs/{run.RunId}/artifacts/two.md?iteration=1\"", artifacts.Html, StringComparison.Ordinal);
        Assert.Contains("<code>run.completed</code>", (await browser.GetAsync($"/runs/{run.RunId}?tab=events")).Html, StringComparison.Ordinal);
        var metrics = await browser.GetAsync($"/runs/{run.RunId}?tab=metrics");
        Assert.Contains("Cost per phase", metrics.Html, StringComparison.Ordinal);
        Assert.Contains("<svg class=\"bar-chart\"", metrics.Html, StringComparison.Ordinal);
        var logs = await browser.GetAsync($"/runs/{run.RunId}?tab=logs");
        Assert.Contains("<h2 id=\"logs-h\">Logs</h2>", logs.Html, StringComparison.Ordinal);
        Assert.Contains("[two#1] rendered two.md", logs.Html, StringComparison.Ordinal);

        var artifact = await browser.GetAsync($"/runs/{run.RunId}/artifacts/two.md?iteration=1");
        Assert.Equal(HttpStatusCode.OK, artifact.Status);
        Assert.Contains("<div class=\"markdown\">", artifact.Html, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync($"/runs/{run.RunId}/artifacts/nope.md")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/runs/run_nope")).Status);
    }

    [Fact]
    public async Task A_viewer_sees_no_decision_forms_and_may_not_post_one()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.DoesNotContain("action-approve", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("action-reject", page.Html, StringComparison.Ordinal);

        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = run.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Equal(HttpStatusCode.Forbidden, posted.Status);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task An_approver_approves_through_the_form_and_the_run_moves_on()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("action-approve", page.Html, StringComparison.Ordinal);
        Assert.Contains("action-reject", page.Html, StringComparison.Ordinal);

        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = page.Version, ["comment"] = "looks good" });
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        Assert.Equal($"/runs/{run.RunId}", posted.Location);
        var done = await _admin.WaitForStatusAsync(run.RunId, "completed");
        var draft = Assert.Single(done.Phases, p => p.Name == "draft");
        Assert.Equal("approved", draft.Approval?.Status);
        Assert.Equal("looks good", draft.Approval?.Comment);
    }

    [Fact]
    public async Task A_decision_on_a_stale_page_says_the_run_changed()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var stale = (long.Parse(page.Version, System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = stale });
        Assert.Equal(HttpStatusCode.Conflict, posted.Status);
        Assert.Contains("The run changed: it is now awaiting approval.", posted.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_without_an_antiforgery_token_is_refused()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string> { ["version"] = page.Version }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);

        using var anonymous = new Browser(factory);
        await anonymous.GetAsync("/signin");
        Assert.Equal(HttpStatusCode.BadRequest, (await anonymous.PostAsync("/signin", new Dictionary<string, string> { ["api_key"] = BatonFactory.AdminToken }, withToken: false)).Status);
    }

    [Fact]
    public async Task Empty_reject_feedback_shows_the_message_and_keeps_the_input()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("approver");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var posted = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = page.Version, ["feedback"] = "  ", ["reject_to"] = "draft" });
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains("Feedback is required to reject: tell the agent what to change.", posted.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"draft\" selected>", posted.Html, StringComparison.Ordinal);
        Assert.Contains("aria-invalid=\"true\"", posted.Html, StringComparison.Ordinal);

        var rejected = await browser.PostAsync($"/runs/{run.RunId}/reject",
            new Dictionary<string, string> { ["version"] = posted.Version, ["feedback"] = "More detail", ["reject_to"] = "draft" });
        Assert.Equal(HttpStatusCode.Redirect, rejected.Status);
        await _admin.WaitForGateAsync(run.RunId, "draft", 2);
    }

    [Fact]
    public async Task An_operator_cancels_through_the_form()
    {
        var run = await AtGateAsync();
        using var browser = await SignedInAsync("operator");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.DoesNotContain("action-approve", page.Html, StringComparison.Ordinal);
        var posted = await browser.PostAsync($"/runs/{run.RunId}/cancel", new Dictionary<string, string> { ["version"] = page.Version, ["reason"] = "not needed" });
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        Assert.Equal("cancelled", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task An_intake_with_markup_is_rendered_encoded()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "<script>alert('x')</script>", "<b>proj</b>"));
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>proj</b>", page.Html, StringComparison.Ordinal);
        var list = await browser.GetAsync("/");
        Assert.DoesNotContain("<b>proj</b>", list.Html, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", page.Csp, StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_artifacts_are_rendered_without_raw_html_or_script_links()
    {
        var html = ArtifactPages.Render("notes.md", "text/markdown",
            Encoding.UTF8.GetBytes("# Title\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) [ok](https://example.com)")).Value;
        Assert.Contains("<h1", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.DoesNotContain("javascript:", html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.com\"", html, StringComparison.Ordinal);

        var json = ArtifactPages.Render("data.json", "application/json", Encoding.UTF8.GetBytes("{\"a\":[1,2],\"b\":\"<i>\"}")).Value;
        Assert.Contains("{&#xA;  &quot;a&quot;: [", json, StringComparison.Ordinal);
        Assert.DoesNotContain("<i>", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_key_signs_the_browser_out()
    {
        var created = await _admin.CreateKeyAsync(new CreateKeyRequest("dash-revoked", "viewer"));
        using var browser = new Browser(factory);
        await browser.SignInAsync(created.Token);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).Status);
        await _admin.RevokeKeyAsync(created.KeyId);
        var after = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, after.Status);
        Assert.Contains("/signin", after.Location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_out_ends_the_session()
    {
        using var browser = await SignedInAsync("viewer");
        var signedOut = await browser.PostAsync("/signout");
        Assert.Equal(HttpStatusCode.Redirect, signedOut.Status);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).Status);
    }

    [Fact]
    public async Task The_api_keeps_bearer_keys_only()
    {
        using var anonymous = factory.Http(token: null);
        var response = await anonymous.GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());

        Assert.Equal(HttpStatusCode.OK, (await factory.Http().GetAsync("/api/runs")).StatusCode);

        // A signed-in browser's cookie does not open the API.
        using var browser = await SignedInAsync("admin");
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/runs")).Status);
    }

    [Fact]
    public async Task The_stylesheet_and_script_are_served_without_signing_in()
    {
        using var browser = new Browser(factory);
        var css = await browser.GetAsync("/dashboard/site.css");
        Assert.Equal(HttpStatusCode.OK, css.Status);
        Assert.Contains("prefers-color-scheme: dark", css.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/dashboard/live.js")).Status);
    }

    [Fact]
    public async Task The_run_page_event_stream_takes_the_cookie_and_resumes_after_the_page()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "stream me"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var last = System.Text.RegularExpressions.Regex.Match(page.Html, "data-last-event=\"(\\d+)\"").Groups[1].Value;
        Assert.NotEqual("", last);

        var http = browser.Raw;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await http.GetAsync($"/runs/{run.RunId}/events?last_event_id=0", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ReadEventsAsync(await response.Content.ReadAsStreamAsync(cts.Token), cts.Token);
        Assert.Equal("run.created", events[0].Type);
        Assert.NotNull(events[0].Id);

        // For the page's scripts only log lines are named; every other event comes unnamed (EventSource.onmessage).
        // The run has finished, so its stream ends after its history.
        Assert.Equal(["log", SseParser.EventTypeDefault], events.Select(e => e.Name).Distinct().Order(StringComparer.Ordinal));
        Assert.All(events, e => Assert.Equal(e.Type == "log" ? "log" : SseParser.EventTypeDefault, e.Name));
        Assert.Equal("run.completed", events[^1].Type);

        // The API's stream of the same run names every event by its type.
        using var api = factory.Http();
        var apiEvents = await ReadEventsAsync(await api.GetStreamAsync($"/api/runs/{run.RunId}/events?last_event_id=0", cts.Token), cts.Token);
        Assert.All(apiEvents, e => Assert.Equal(e.Type, e.Name));
        Assert.Contains(apiEvents, e => e.Type == "run.completed");
    }

    [Fact]
    public async Task Cookie_sessions_survive_a_restart()
    {
        string cookie;
        string dataDir;
        using (var first = new BatonFactory { KeepDataDir = true })
        {
            using var browser = new Browser(first);
            var signedIn = await browser.SignInAsync(BatonFactory.AdminToken);
            cookie = signedIn.Cookies.Single(c => c.StartsWith(DashboardAuth.CookieName + "=", StringComparison.Ordinal)).Split(';')[0];
            dataDir = first.DataDir;
        }
        using var second = new BatonFactory(dataDir: dataDir);
        using var http = second.Http(token: null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Cookie", cookie);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task An_operator_creates_a_run_from_the_form()
    {
        using var browser = await SignedInAsync("operator");
        var list = await browser.GetAsync("/");
        Assert.Contains("href=\"/runs/new\"", list.Html, StringComparison.Ordinal);
        var form = await browser.GetAsync("/runs/new?profile=straight");
        Assert.Contains("<option value=\"straight\" selected>", form.Html, StringComparison.Ordinal);

        var invalid = await browser.PostAsync("/runs/new", new Dictionary<string, string> { ["profile"] = "straight", ["project_name"] = "kept <project>", ["intake"] = " " });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.Contains("intake is required", invalid.Html, StringComparison.Ordinal);
        Assert.Contains("value=\"kept &lt;project&gt;\"", invalid.Html, StringComparison.Ordinal);

        var created = await browser.PostAsync("/runs/new", new Dictionary<string, string> { ["profile"] = "straight", ["project_name"] = "from-form", ["intake"] = "# Made in the browser" });
        Assert.Equal(HttpStatusCode.Redirect, created.Status);
        var runId = created.Location!["/runs/".Length..];
        var run = await _admin.WaitForStatusAsync(runId, "completed");
        Assert.Equal("from-form", run.ProjectName);
        Assert.Equal("# Made in the browser", run.Intake);
    }

    [Fact]
    public async Task A_viewer_may_not_create_runs()
    {
        using var browser = await SignedInAsync("viewer");
        var list = await browser.GetAsync("/");
        Assert.DoesNotContain("href=\"/runs/new\"", list.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync("/runs/new")).Status);
    }

    [Fact]
    public async Task A_changed_role_applies_to_the_session_at_once()
    {
        var db = factory.Service<Baton.Storage.Database>();
        const string token = "dash-role-change-token-0123456789";
        await Baton.Auth.ApiKeys.EnsureAsync(db, "dash-role-change", token, "viewer", TimeProvider.System);
        var run = await AtGateAsync();
        using var browser = new Browser(factory);
        await browser.SignInAsync(token);
        Assert.DoesNotContain("action-approve", (await browser.GetAsync($"/runs/{run.RunId}")).Html, StringComparison.Ordinal);

        await Baton.Auth.ApiKeys.EnsureAsync(db, "dash-role-change", token, "approver", TimeProvider.System);
        Assert.Contains("action-approve", (await browser.GetAsync($"/runs/{run.RunId}")).Html, StringComparison.Ordinal);
    }

    /// <summary>A stream's events to its end: each one's name (its SSE event type), id, and the type in its data.</summary>
    private static async Task<List<(string Name, string? Id, string Type)>> ReadEventsAsync(Stream stream, CancellationToken ct)
    {
        var events = new List<(string, string?, string)>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(ct))
        {
            events.Add((item.EventType, item.EventId, JsonDocument.Parse(item.Data).RootElement.GetProperty("type").GetString()!));
        }
        return events;
    }
}
