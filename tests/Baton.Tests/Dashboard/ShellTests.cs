using System.Net;
using Baton.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>What every page shares: the theme choice, relative times, the top bar by role.</summary>
public class ShellTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_chosen_theme_is_remembered_and_drawn_by_the_server()
    {
        using var browser = new Browser(factory);
        await browser.SignInAsync(BatonFactory.AdminToken);
        var before = await browser.GetAsync("/profiles");

        var chosen = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark", ["return"] = "/profiles" });
        var after = await browser.GetAsync("/profiles");

        Assert.Contains("data-theme=\"auto\"", before.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, chosen.Status);
        Assert.Equal("/profiles", chosen.Location);
        Assert.Contains(chosen.Cookies, c => c.StartsWith("baton_theme=dark", StringComparison.Ordinal));
        Assert.Contains("data-theme=\"dark\"", after.Html, StringComparison.Ordinal);
        Assert.Contains("Switch to the light theme", after.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("purple")]
    [InlineData("")]
    public async Task An_unknown_theme_says_which_exist(string theme)
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");

        var page = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = theme });

        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("choose dark, light or auto", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Choosing_a_theme_needs_the_antiforgery_token_and_stays_on_this_site()
    {
        using var browser = new Browser(factory);
        await browser.GetAsync("/signin");

        var forged = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "dark" }, withToken: false);
        var offsite = await browser.PostAsync("/theme", new Dictionary<string, string> { ["theme"] = "light", ["return"] = "//evil.example/" });

        Assert.Equal(HttpStatusCode.BadRequest, forged.Status);
        Assert.Equal("/", offsite.Location);
    }

    [Fact]
    public async Task The_top_bar_offers_api_keys_to_admins_only()
    {
        var viewer = await factory.Client().CreateKeyAsync(new Client.CreateKeyRequest($"shell-viewer-{Guid.NewGuid():N}", "viewer"));
        using var asViewer = new Browser(factory);
        using var asAdmin = new Browser(factory);
        await asViewer.SignInAsync(viewer.Token);
        await asAdmin.SignInAsync(BatonFactory.AdminToken);

        var viewerPage = await asViewer.GetAsync("/");
        var adminPage = await asAdmin.GetAsync("/");

        Assert.DoesNotContain("href=\"/keys\"", viewerPage.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"/keys\"", adminPage.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"/\" aria-current=\"page\"", adminPage.Html, StringComparison.Ordinal);
        Assert.NotNull(adminPage.Csp);
    }

    [Theory]
    [InlineData(10, "just now")]
    [InlineData(-10, "just now")]
    [InlineData(90, "2 min ago")]
    [InlineData(-300, "in 5 min")]
    [InlineData(3 * 3600 + 59, "3 h ago")]
    [InlineData(2 * 86400, "2 d ago")]
    [InlineData(40 * 86400, "2026-10-12")]
    public void Relative_times_read_as_people_say_them(int secondsAgo, string expected)
    {
        var now = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(expected, DashboardPages.Relative(now.AddSeconds(-secondsAgo), now));
    }
}
