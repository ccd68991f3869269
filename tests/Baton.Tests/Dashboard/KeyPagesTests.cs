using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>The API keys pages: admins only; a created key's token is shown once and works; a revoked one stops working.</summary>
public sealed partial class KeyPagesTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private async Task<(Browser Browser, CreatedKey Key)> SignedInAsync(string role)
    {
        var key = await _admin.CreateKeyAsync(new CreateKeyRequest($"key-pages-{role}-{Guid.NewGuid():N}", role));
        var browser = new Browser(factory);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.SignInAsync(key.Token)).Status);
        return (browser, key);
    }

    private static Dictionary<string, string> Fields(string name, string role, string expiresOn = "") =>
        new() { ["name"] = name, ["role"] = role, ["expires_on"] = expiresOn };

    [GeneratedRegex("id=\"new-token\" class=\"token\" readonly value=\"(bat_[A-Za-z0-9_-]+)\"")]
    private static partial Regex TokenField();

    [Theory]
    [InlineData("viewer")]
    [InlineData("approver")]
    public async Task Only_admins_see_or_change_keys(string role)
    {
        var (browser, _) = await SignedInAsync(role);
        using (browser)
        {
            var home = await browser.GetAsync("/");
            Assert.DoesNotContain("href=\"/keys\"", home.Html, StringComparison.Ordinal);
            var list = await browser.GetAsync("/keys");
            Assert.Equal(HttpStatusCode.Forbidden, list.Status);
            Assert.Contains("may not do this", list.Html, StringComparison.Ordinal);
            var victim = await _admin.CreateKeyAsync(new CreateKeyRequest($"victim-{Guid.NewGuid():N}", "viewer"));
            Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsync($"/keys/{victim.KeyId}/revoke")).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsync("/keys", Fields("sneaky", "admin"))).Status);
            Assert.DoesNotContain((await _admin.ListKeysAsync()).Keys, k => k.Name == "sneaky");
            Assert.Null((await _admin.ListKeysAsync()).Keys.Single(k => k.KeyId == victim.KeyId).RevokedAt);
        }
    }

    [Fact]
    public async Task A_created_key_shows_its_token_once_and_the_token_works()
    {
        var (browser, me) = await SignedInAsync("admin");
        using var _ = browser;
        var list = await browser.GetAsync("/keys");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Contains(me.Name, list.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"muted small\"> (you)</span>", list.Html, StringComparison.Ordinal);
        Assert.Contains("action=\"/keys\"", list.Html, StringComparison.Ordinal);

        var name = $"ci-{Guid.NewGuid():N}";
        var expires = DateTime.UtcNow.AddDays(30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        using var response = await browser.Raw.PostAsync("/keys", new FormUrlEncodedContent(new Dictionary<string, string>(Fields(name, "operator", expires)) { ["__csrf"] = browser.Token! }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore, "the token page is not cached");
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Copy the token now: it is not shown again.", html, StringComparison.Ordinal);
        var token = TokenField().Match(html).Groups[1].Value;
        Assert.StartsWith("bat_", token, StringComparison.Ordinal);

        var created = (await _admin.ListKeysAsync()).Keys.Single(k => k.Name == name);
        Assert.Equal(("operator", expires), (created.Role, created.ExpiresAt?.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.NotEmpty((await factory.Client(token).ListProfilesAsync()).Profiles);

        var after = await browser.GetAsync("/keys");
        Assert.Contains(name, after.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(token, after.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "viewer", "", "name", "name is required")]
    [InlineData("   ", "operator", "2099-01-01", "name", "name is required")]
    [InlineData("bad-role", "boss", "", "role", "unknown role &#x27;boss&#x27;")]
    [InlineData("bad-date", "viewer", "next week", "expires_at", "&#x27;next week&#x27; is not a date; use the form YYYY-MM-DD")]
    [InlineData("bad-day", "viewer", "2030-02-30", "expires_at", "is not a date")]
    [InlineData("past", "approver", "2000-01-01", "expires_at", "expires_at must be in the future")]
    public async Task Bad_input_is_a_400_with_the_message_and_the_input_kept(string name, string role, string expiresOn, string field, string message)
    {
        var (browser, _) = await SignedInAsync("admin");
        using var _b = browser;
        await browser.GetAsync("/keys");
        var page = await browser.PostAsync("/keys", Fields(name, role, expiresOn));
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("The key was not created", page.Html, StringComparison.Ordinal);
        Assert.Matches($"<p class=\"field-error\" id=\"error-{field}\">[^<]*{Regex.Escape(message)}", page.Html);
        Assert.Contains($"aria-describedby=\"error-{field} ", page.Html, StringComparison.Ordinal);
        Assert.Contains($"value=\"{name.Trim()}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"<option value=\"{WebUtility.HtmlEncode(role)}\" selected", page.Html, StringComparison.Ordinal);
        Assert.Contains($"name=\"expires_on\" type=\"date\" value=\"{expiresOn}\"", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("new-token", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_form_refused_for_its_date_creates_no_key()
    {
        var (browser, _) = await SignedInAsync("admin");
        using var _b = browser;
        await browser.GetAsync("/keys");
        var name = $"bad-date-{Guid.NewGuid():N}";
        var page = await browser.PostAsync("/keys", Fields(name, "viewer", "next week"));
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("The key was not created", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain((await _admin.ListKeysAsync()).Keys, k => k.Name == name);
    }

    [Fact]
    public async Task A_name_in_use_is_refused_with_the_reason()
    {
        var (browser, me) = await SignedInAsync("admin");
        using var _ = browser;
        await browser.GetAsync("/keys");
        var page = await browser.PostAsync("/keys", Fields(me.Name, "viewer"));
        Assert.Equal(HttpStatusCode.Conflict, page.Status);
        Assert.Contains($"an active key named &#x27;{me.Name}&#x27; exists", page.Html, StringComparison.Ordinal);
        Assert.Contains("aria-invalid=\"true\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forms_without_the_antiforgery_token_are_refused()
    {
        var (browser, _) = await SignedInAsync("admin");
        using var _b = browser;
        var victim = await _admin.CreateKeyAsync(new CreateKeyRequest($"victim-{Guid.NewGuid():N}", "viewer"));
        await browser.GetAsync("/keys");
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync("/keys", Fields("no-token", "viewer"), withToken: false)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync($"/keys/{victim.KeyId}/revoke", withToken: false)).Status);
        Assert.DoesNotContain((await _admin.ListKeysAsync()).Keys, k => k.Name == "no-token");
        Assert.NotEmpty((await factory.Client(victim.Token).ListProfilesAsync()).Profiles);
    }

    [Fact]
    public async Task Revoking_asks_first_then_the_token_stops_working()
    {
        var (browser, _) = await SignedInAsync("admin");
        using var _b = browser;
        var victim = await _admin.CreateKeyAsync(new CreateKeyRequest($"victim-{Guid.NewGuid():N}", "operator"));
        var list = await browser.GetAsync("/keys");
        Assert.Contains($"href=\"/keys/{victim.KeyId}/revoke\"", list.Html, StringComparison.Ordinal);

        var confirm = await browser.GetAsync($"/keys/{victim.KeyId}/revoke");
        Assert.Equal(HttpStatusCode.OK, confirm.Status);
        Assert.Contains($"Revoke the key {victim.Name}?", confirm.Html, StringComparison.Ordinal);
        Assert.Contains($"action=\"/keys/{victim.KeyId}/revoke\"", confirm.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("This is the key you are signed in with", confirm.Html, StringComparison.Ordinal);

        var revoked = await browser.PostAsync($"/keys/{victim.KeyId}/revoke");
        Assert.Equal(HttpStatusCode.Redirect, revoked.Status);
        Assert.Equal("/keys", revoked.Location);
        var refused = await Assert.ThrowsAsync<BatonApiException>(() => factory.Client(victim.Token).ListProfilesAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        var after = await browser.GetAsync("/keys");
        Assert.Contains("<span class=\"status status-failed\">revoked</span>", after.Html, StringComparison.Ordinal);
        Assert.DoesNotContain($"href=\"/keys/{victim.KeyId}/revoke\"", after.Html, StringComparison.Ordinal);

        var again = await browser.PostAsync($"/keys/{victim.KeyId}/revoke");
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Contains($"Not revoked: key &#x27;{victim.KeyId}&#x27; is already revoked.", again.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_your_own_key_warns_and_signs_you_out()
    {
        var (browser, me) = await SignedInAsync("admin");
        using var _ = browser;
        var confirm = await browser.GetAsync($"/keys/{me.KeyId}/revoke");
        Assert.Contains("This is the key you are signed in with: revoking it signs you out.", confirm.Html, StringComparison.Ordinal);
        var revoked = await browser.PostAsync($"/keys/{me.KeyId}/revoke");
        Assert.Equal(HttpStatusCode.Redirect, revoked.Status);
        Assert.Equal("/signin", revoked.Location);
        var next = await browser.GetAsync("/keys");
        Assert.Equal(HttpStatusCode.Redirect, next.Status);
        Assert.Contains("/signin", next.Location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_keys_are_a_404_page()
    {
        var (browser, _) = await SignedInAsync("admin");
        using var _b = browser;
        var page = await browser.GetAsync("/keys/key_nope/revoke");
        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Contains("There is no API key &#x27;key_nope&#x27;.", page.Html, StringComparison.Ordinal);
        await browser.GetAsync("/keys");
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync("/keys/key_nope/revoke")).Status);
    }
}
