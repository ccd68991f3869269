using System.Net;
using System.Net.Http.Headers;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>Requests that broke the dashboard's server side: over-limit forms, odd return addresses, repeated query parameters, assets.</summary>
public sealed class DashboardHardeningTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role);

    /// <summary>More fields than the framework reads (FormOptions.ValueCountLimit is 1,024).</summary>
    private static Dictionary<string, string> TooManyFields(Dictionary<string, string>? with = null)
    {
        var fields = Enumerable.Range(0, 1100).ToDictionary(i => $"f{i}", i => "x");
        foreach (var (k, v) in with ?? [])
        {
            fields[k] = v;
        }
        return fields;
    }

    private static void AssertTooLarge(Page page)
    {
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("The form was too large", page.Html, StringComparison.Ordinal);
    }

    // ---- over-limit forms ----

    [Fact]
    public async Task An_anonymous_sign_in_with_too_many_fields_is_a_400_page()
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");
        AssertTooLarge(await browser.PostAsync("/signin", TooManyFields(new() { ["api_key"] = "bat_x" })));
        AssertTooLarge(await browser.PostAsync("/theme", TooManyFields(new() { ["theme"] = "dark" })));
        AssertTooLarge(await browser.PostAsync("/signout", TooManyFields()));
        AssertTooLarge(await browser.PostAsync("/signin/link", TooManyFields(new() { ["code"] = "abc" })));
    }

    [Fact]
    public async Task A_field_name_over_the_length_limit_is_a_400_page()
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");
        // FormOptions.KeyLengthLimit is 2,048 characters.
        AssertTooLarge(await browser.PostAsync("/signin", new Dictionary<string, string> { ["api_key"] = "bat_x", [new string('k', 3000)] = "x" }));
    }

    [Fact]
    public async Task Decisions_keys_and_cancel_with_too_many_fields_are_a_400_page()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", "Write the draft."));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);
        using var browser = await SignedInAsync(Roles.Admin);
        var page = await browser.GetAsync($"/runs/{run.RunId}");
        AssertTooLarge(await browser.PostAsync($"/runs/{run.RunId}/approve", TooManyFields(new() { ["version"] = page.Version })));
        AssertTooLarge(await browser.PostAsync("/keys", TooManyFields(new() { ["name"] = "k", ["role"] = "viewer" })));
        AssertTooLarge(await browser.PostAsync("/keys/key_x/revoke", TooManyFields()));
        AssertTooLarge(await browser.PostAsync("/executions/exe_x/cancel", TooManyFields()));
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task A_form_without_its_token_is_still_form_expired()
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");
        var page = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark" }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("Form expired", page.Html, StringComparison.Ordinal);
    }

    // ---- return addresses ----

    [Theory]
    [InlineData("/\t/evil.com")]
    [InlineData("/\\evil.com")]
    [InlineData("//evil.com")]
    [InlineData("https://evil.com")]
    [InlineData("/x\r\nSet-Cookie: injected=1")]
    public async Task The_theme_form_returns_only_to_a_local_path(string target)
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");
        var page = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark", ["return"] = target });
        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Equal("/", page.Location);
        Assert.DoesNotContain(page.Cookies, c => c.StartsWith("injected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_non_ascii_return_address_is_encoded_not_a_500()
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");
        var page = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark", ["return"] = "/runs/é?q=a b" });
        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Equal("/runs/%C3%A9?q=a%20b", page.Location);
    }

    [Fact]
    public async Task Sign_in_with_a_tab_in_its_return_address_goes_home()
    {
        var created = await _admin.CreateKeyAsync(new CreateKeyRequest($"hardening-return-{Guid.NewGuid():N}", Roles.Viewer));
        using var browser = new Browser(factory);
        var form = await browser.GetAsync("/signin?return=/%09/evil.com");
        // The sign-in form does not carry the address on (the theme form's return is the page's own, encoded, address).
        Assert.DoesNotMatch("name=\"return\" value=\"/(\t|&#x9;|&#9;)", form.Html);
        var page = await browser.PostAsync("/signin", new Dictionary<string, string> { ["api_key"] = created.Token, ["return"] = "/\t/evil.com" });
        Assert.Equal(HttpStatusCode.Redirect, page.Status);
        Assert.Equal("/", page.Location);
    }

    [Theory]
    [InlineData("/runs/x", "/runs/x")]
    [InlineData("/", "/")]
    [InlineData("~/runs", "/runs")]
    [InlineData("/runs/é", "/runs/%C3%A9")]
    [InlineData("/?q=a%20b", "/?q=a%20b")]
    [InlineData("/\t/evil.com", null)]
    [InlineData("/\n/evil.com", null)]
    [InlineData("//evil.com", null)]
    [InlineData("/\\evil.com", null)]
    [InlineData("~//evil.com", null)]
    [InlineData("evil.com", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Local_urls_are_paths_on_this_site_safe_for_a_header(string? url, string? expected) =>
        Assert.Equal(expected, DashboardForms.LocalUrl(url));

    [Theory]
    [InlineData("/?status=running", "/?status=running")]
    [InlineData("/?q=é", "/?q=%C3%A9")]
    [InlineData("/?q=x\r\nSet-Cookie: a=b", "/")]
    [InlineData("/runs/x", "/")]
    [InlineData("//evil.com", "/")]
    public void The_bulk_form_returns_to_the_list_only(string url, string expected) =>
        Assert.Equal(expected, RunListEndpoints.ReturnUrl(url));

    // ---- repeated query parameters ----

    /// <summary>
    /// A string parameter bound by the framework receives a repeated one's values joined by commas (no binding
    /// failure), which every page then treats as one bad value: this keeps it that way for every page.
    /// </summary>
    [Fact]
    public async Task A_repeated_query_parameter_is_a_page_with_a_note_not_a_bare_400()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("gated", "Write the draft."));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);
        using var browser = await SignedInAsync(Roles.Viewer);

        var executions = await browser.GetAsync("/executions?status=running&status=error&limit=1&limit=2");
        Assert.Equal(HttpStatusCode.OK, executions.Status);
        Assert.Contains("running,error", executions.Html, StringComparison.Ordinal);
        Assert.Contains("The page size must be a whole number", executions.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/executions?worker=a&worker=b&offset=1&offset=2")).Status);

        var workspaces = await browser.GetAsync("/workspaces?state=active&state=all");
        Assert.Equal(HttpStatusCode.OK, workspaces.Status);
        Assert.Contains("Unknown state", workspaces.Html, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/runs/{run.RunId}?tab=logs&tab=events")).Status);
        var events = await browser.GetAsync($"/runs/{run.RunId}?tab=events&before=5&before=6");
        Assert.Equal(HttpStatusCode.OK, events.Status);
        Assert.Contains("is not an event number", events.Html, StringComparison.Ordinal);

        foreach (var path in new[]
        {
            $"/runs/{run.RunId}/artifacts/none.md?iteration=1&iteration=2",
            $"/runs/{run.RunId}/artifacts/none.md/raw?iteration=1&iteration=2",
            $"/runs/{run.RunId}/artifacts/none.md/compare?from=1&from=2&to=1&to=2",
        })
        {
            var artifact = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, artifact.Status);
            Assert.Contains("Artifact not found", artifact.Html, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/signin?return=/a&return=/b")).Status);
        var link = await browser.GetAsync("/signin/link?code=a&code=b");
        Assert.Equal(HttpStatusCode.OK, link.Status); // the page takes no code from the query
        Assert.Contains("<html", link.Html, StringComparison.Ordinal);
    }

    // ---- assets ----

    [Fact]
    public async Task An_asset_has_an_etag_and_is_revalidated_with_a_304()
    {
        var http = factory.Http(token: null);
        using var first = await http.GetAsync("/dashboard/site.css");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True(first.Headers.CacheControl?.NoCache);
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Contains("---- ", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/dashboard/site.css");
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);

        using var other = new HttpRequestMessage(HttpMethod.Get, "/dashboard/site.css");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"old\""));
        using var changed = await http.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);

        using var js = await http.GetAsync("/dashboard/site.js");
        Assert.NotEqual(etag, js.Headers.ETag);
    }
}

/// <summary>Every dashboard page, as an admin, with odd values in every place a value goes: never a 500.</summary>
public sealed class DashboardOddInputTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static readonly string[] OddValues =
    [
        "", " ", "-1", "0", "99999999999999999999", "1e3", "abc", "%00", "%E2%80%AE", "%C3%A9t%C3%A9", "..%2F..%2Fetc",
        "%3Cscript%3E", "'%20OR%201=1--", new string('x', 5000),
    ];

    private static readonly string[] Pages =
    [
        "/?status={0}&profile={0}&project={0}&q={0}&limit={0}&offset={0}",
        "/runs/{0}",
        "/runs/{{run}}?tab={0}&before={0}",
        "/runs/{{run}}/logs.txt?x={0}",
        "/runs/{{run}}/artifacts/{0}?iteration={0}",
        "/runs/{{run}}/artifacts/draft.md?iteration={0}",
        "/runs/{{run}}/artifacts/draft.md/compare?from={0}&to={0}",
        "/runs/{{run}}/artifacts/draft.md/raw?iteration={0}",
        "/runs/new?profile={0}",
        "/executions?status={0}&worker={0}&limit={0}&offset={0}",
        "/executions/{0}",
        "/workspaces?state={0}",
        "/profiles/{0}",
        "/keys?x={0}",
        "/signin?return={0}",
        "/signin/link?code={0}",
    ];

    [Fact]
    public async Task No_page_answers_500_to_odd_values()
    {
        var admin = factory.Client();
        var run = await admin.WaitForGateAsync((await admin.CreateRunAsync(new CreateRunRequest("gated", "odd input"))).RunId, "draft", 1);
        using var browser = new Browser(factory);
        await browser.SignInAsync(BatonFactory.AdminToken);
        var failures = new List<string>();
        foreach (var page in Pages)
        {
            // A NUL in the path itself is refused by the server before any page sees it (the test host throws instead).
            foreach (var value in OddValues.Where(v => v != "%00" || page.IndexOf("{0}", StringComparison.Ordinal) > page.IndexOf('?', StringComparison.Ordinal) && page.Contains('?', StringComparison.Ordinal)))
            {
                var path = string.Format(System.Globalization.CultureInfo.InvariantCulture, page, value).Replace("{run}", run.RunId, StringComparison.Ordinal);
                var response = await browser.GetAsync(path);
                if ((int)response.Status >= 500 || response.Status == HttpStatusCode.BadRequest && !response.Html.Contains("<html", StringComparison.Ordinal))
                {
                    failures.Add($"{(int)response.Status} {path[..Math.Min(path.Length, 120)]}");
                }
            }
        }
        Assert.True(failures.Count == 0, "Pages that failed on odd input:\n" + string.Join("\n", failures));
    }
}
