using System.Net;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

public class SignInLinkTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private async Task<(string Token, string Code)> LinkAsync(string role)
    {
        var key = await _admin.CreateKeyAsync(new CreateKeyRequest($"link-{role}-{Guid.NewGuid():N}", role));
        var link = await factory.Client(key.Token).CreateSignInLinkAsync();
        return (key.Token, Code(link));
    }

    private static string Code(SignInLink link) => Uri.UnescapeDataString(link.Url[(link.Url.IndexOf("#code=", StringComparison.Ordinal) + 6)..]);

    [Fact]
    public async Task The_code_is_in_the_fragment_and_the_page_never_takes_one_from_the_query()
    {
        var (_, code) = await LinkAsync("viewer");
        using var browser = new Browser(factory);

        // A link of the old shape (its code in the query, where request logs see it) is not honoured.
        var page = await browser.GetAsync("/signin/link?code=" + Uri.EscapeDataString(code));

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.DoesNotContain("role viewer", page.Html, StringComparison.Ordinal);
        Assert.Contains("<input id=\"signin-code\" name=\"code\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_link_shows_whom_it_signs_in_as_and_signs_in_once()
    {
        var (_, code) = await LinkAsync("viewer");
        using var browser = new Browser(factory);

        var opened = await browser.GetAsync("/signin/link");
        var page = await browser.PostAsync("/signin/link/preview", new Dictionary<string, string> { ["code"] = code });
        var again = await browser.PostAsync("/signin/link/preview", new Dictionary<string, string> { ["code"] = code });
        var signedIn = await browser.PostAsync("/signin/link", new Dictionary<string, string> { ["code"] = code });
        var runs = await browser.GetAsync("/");
        var reused = await browser.PostAsync("/signin/link", new Dictionary<string, string> { ["code"] = code });

        Assert.Equal(HttpStatusCode.OK, opened.Status);
        Assert.Contains("action=\"/signin/link/preview\"", opened.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("role viewer", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, again.Status); // seeing whom it signs in as does not use it up
        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        Assert.Equal(HttpStatusCode.OK, runs.Status);
        Assert.Contains("<span class=\"role\">viewer</span>", runs.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, reused.Status);
        Assert.Contains("already used or expired", reused.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("nope")]
    [InlineData("x-very-long-code-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    public async Task An_unknown_missing_or_oversized_code_says_so(string code)
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin/link");

        var page = await browser.PostAsync("/signin/link/preview", new Dictionary<string, string> { ["code"] = code });
        var post = await browser.PostAsync("/signin/link", new Dictionary<string, string> { ["code"] = code });

        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Contains("unknown, already used or expired", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, post.Status);
        Assert.DoesNotContain(post.Cookies, c => c.StartsWith("baton_session=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_link_of_a_revoked_key_does_not_sign_in()
    {
        var key = await _admin.CreateKeyAsync(new CreateKeyRequest($"link-revoked-{Guid.NewGuid():N}", "operator"));
        var link = await factory.Client(key.Token).CreateSignInLinkAsync();
        await _admin.RevokeKeyAsync(key.KeyId);
        using var browser = new Browser(factory);
        await browser.GetAsync(new Uri(link.Url).PathAndQuery);

        var page = await browser.PostAsync("/signin/link/preview", new Dictionary<string, string> { ["code"] = Code(link) });

        Assert.Equal(HttpStatusCode.NotFound, page.Status);
    }

    [Fact]
    public async Task Spending_a_link_needs_the_antiforgery_token()
    {
        var (_, code) = await LinkAsync("operator");
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin/link");

        var post = await browser.PostAsync("/signin/link", new Dictionary<string, string> { ["code"] = code }, withToken: false);
        var stillUsable = await browser.PostAsync("/signin/link/preview", new Dictionary<string, string> { ["code"] = code });

        Assert.Equal(HttpStatusCode.BadRequest, post.Status);
        Assert.Equal(HttpStatusCode.OK, stillUsable.Status);
    }

    [Fact]
    public async Task The_api_gives_links_to_signed_in_keys_only()
    {
        using var anonymous = factory.Http(token: null);

        using var refused = await anonymous.PostAsync("/api/signin-links", null);
        var link = await _admin.CreateSignInLinkAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.StartsWith("http://localhost/signin/link#code=", link.Url, StringComparison.Ordinal);
        Assert.InRange(link.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
    }
}
