using System.Net;
using Baton.Client;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
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
    private static readonly string ChromiumPath = Environment.GetEnvironmentVariable("BATON_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private const float Wait = 20_000;

    [Fact]
    public async Task Opening_a_link_shows_whom_it_signs_in_as_and_one_click_signs_in()
    {
        Assert.True(File.Exists(ChromiumPath),
            $"Chromium is not installed at {ChromiumPath}: the browser test needs it (apt-get install -y chromium, or set BATON_CHROMIUM). Never `playwright install`.");
        await using var factory = new KestrelFactory();
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
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
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

    private sealed class KestrelFactory : BatonFactory
    {
        public KestrelFactory()
        {
            UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        }

        public Uri Start()
        {
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        }
    }
}
