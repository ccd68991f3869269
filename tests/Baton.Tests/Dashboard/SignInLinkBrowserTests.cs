using Baton.Client;
using Baton.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Baton.Tests.Dashboard;

/// <summary>
/// A sign-in link in a real browser (Debian's Chromium): the code is in the link's fragment, so only the page's
/// script can hand it to the server. Opening the link must still sign in with one click, and leave no code in the
/// address bar.
/// </summary>
public sealed class SignInLinkBrowserTests
{
    private const float Wait = 20_000;

    [Fact]
    public async Task Opening_a_link_shows_whom_it_signs_in_as_and_one_click_signs_in()
    {
        Chromium.AssertInstalled();
        await using var factory = new KestrelBatonFactory();
        var baseUrl = factory.Start();
        using var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", BatonFactory.AdminToken);
        var key = await new BatonClient(http).CreateKeyAsync(new CreateKeyRequest("link-in-chromium", "operator"));
        using var keyHttp = new HttpClient { BaseAddress = baseUrl };
        keyHttp.DefaultRequestHeaders.Authorization = new("Bearer", key.Token);
        var link = await new BatonClient(keyHttp).CreateSignInLinkAsync();
        var profile = Directory.CreateTempSubdirectory("baton-chromium-link-");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Chromium.ExecutablePath,
            Headless = true,
            Args = Chromium.Args,
        });
        try
        {
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();

            await page.GotoAsync(link.Url);
            var button = page.GetByRole(AriaRole.Button, new() { Name = "Sign in as link-in-chromium" });
            await Expect(button).ToBeVisibleAsync(new() { Timeout = Wait });
            Assert.DoesNotContain("code=", page.Url, StringComparison.Ordinal);
            await button.ClickAsync();

            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("span.role")).ToHaveTextAsync("operator");
            Assert.Equal(new Uri(baseUrl, "/").AbsoluteUri, page.Url);
        }
        finally
        {
            await browser.CloseAsync();
            profile.Delete(recursive: true);
        }
    }
}
