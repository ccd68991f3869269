using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Profiles;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Baton.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's Chromium driven by Playwright) against the real server on a real port:
/// sign in, create a run, watch it reach its gate without reloading (live.js), reject, approve, see it complete.
/// Screenshots of every state land in the test output folder's <c>screenshots</c>.
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output)
{
    /// <summary>Debian's Chromium (CI installs it with apt); BATON_CHROMIUM points elsewhere.</summary>
    private static readonly string ChromiumPath = Environment.GetEnvironmentVariable("BATON_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>The design phase takes this long on the test's manual clock, so the page is open before the gate opens.</summary>
    private static readonly TimeSpan DesignDelay = TimeSpan.FromSeconds(17);

    private const float Wait = 20_000;

    [Fact]
    public async Task A_run_reaches_its_gate_live_is_rejected_approved_and_completes_in_chromium()
    {
        Assert.True(File.Exists(ChromiumPath),
            $"Chromium is not installed at {ChromiumPath}: the browser test needs it (apt-get install -y chromium, or set BATON_CHROMIUM). Never `playwright install`.");
        var shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        if (Directory.Exists(shots))
        {
            Directory.Delete(shots, recursive: true);
        }
        Directory.CreateDirectory(shots);
        output.WriteLine($"Screenshots: {shots}");

        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var factory = new KestrelFactory(clock);
        var baseUrl = factory.Start();
        // The factory's own clients talk to the in-memory server's address; this one goes through the real port.
        using var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", BatonFactory.AdminToken);
        var api = new BatonClient(http);
        var profile = Directory.CreateTempSubdirectory("baton-chromium-");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            BaseURL = baseUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
        try
        {
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            var problems = new List<string>();
            page.Console += (_, m) =>
            {
                if (m.Type == "error")
                {
                    problems.Add($"console: {m.Text}");
                }
            };
            page.PageError += (_, e) => problems.Add($"page error: {e}");
            var n = 0;
            async Task Shot(string name)
            {
                var file = Path.Combine(shots, $"{++n:00}-{name}.png");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
                output.WriteLine($"  {Path.GetFileName(file)}");
            }
            ILocator Fact(string name) => page.Locator($"#live dl.facts dt:text-is('{name}') + dd");

            // Sign in with the admin key: a signed-out page sends the browser to the sign-in form.
            await page.GotoAsync("/");
            await Expect(page).ToHaveURLAsync(new Regex("/signin"));
            await page.Locator("#api_key").FillAsync(BatonFactory.AdminToken);
            await Shot("signin");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("main")).ToContainTextAsync("No runs yet.", new() { Timeout = Wait });
            await Shot("runs-empty");

            // Create a software_delivery run from the New run form.
            await page.Locator(".title-row").GetByRole(AriaRole.Link, new() { Name = "New run" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New run" })).ToBeVisibleAsync(new() { Timeout = Wait });
            await page.Locator("#profile").SelectOptionAsync("software_delivery");
            await page.Locator("#project_name").FillAsync("dark-mode");
            await page.Locator("#intake").FillAsync("# Dark mode\n\nUsers want a dark theme that follows the system setting.");
            await Shot("new-run-form");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create run" }).ClickAsync();
            await page.WaitForURLAsync(new Regex(@"/runs/[^/]+$"), new() { Timeout = Wait });
            var runId = Uri.UnescapeDataString(new Uri(page.Url).AbsolutePath["/runs/".Length..]);
            output.WriteLine($"Run {runId} at {page.Url}");

            // The design phase is held on the manual clock: the page is open and shows the run working, not at its gate.
            await WaitForTimerAsync(clock, DesignDelay);
            await Expect(Fact("Status")).ToContainTextAsync("running", new() { Timeout = Wait });
            await Expect(Fact("Current phase")).ToContainTextAsync("design", new() { Timeout = Wait });
            await Shot("run-design-running");

            // Without reloading: live.js hears the stream and swaps #live when the gate opens.
            await page.EvaluateAsync("() => { window.batonSamePage = 'yes'; }");
            clock.Advance(DesignDelay);
            await Expect(Fact("Status")).ToContainTextAsync("awaiting approval", new() { Timeout = Wait });
            await Expect(Fact("Iteration")).ToHaveTextAsync("1");
            await Expect(page.Locator("#live form.action-reject")).ToBeVisibleAsync();
            await Expect(page.Locator("#live .timeline-chart rect.tl-open")).ToHaveCountAsync(1);
            Assert.Equal("yes", await page.EvaluateAsync<string?>("() => window.batonSamePage ?? null"));
            await Shot("run-at-gate");

            // Reject with feedback: the run goes back to design, iteration 2 (held again on the clock).
            await page.Locator("#reject-feedback").FillAsync("Cover keyboard shortcuts for switching themes.");
            await page.Locator("#reject-to").SelectOptionAsync("design");
            await page.Locator("form.action-reject").GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();
            await WaitForTimerAsync(clock, DesignDelay);
            await Expect(Fact("Iteration")).ToHaveTextAsync("2", new() { Timeout = Wait });
            await Expect(Fact("Status")).ToContainTextAsync("running", new() { Timeout = Wait });
            await Expect(page.Locator("#live table.phases")).ToContainTextAsync("rejected by");
            await Expect(page.Locator("#live table.phases")).ToContainTextAsync("Cover keyboard shortcuts for switching themes.");
            await Shot("after-reject");

            await page.EvaluateAsync("() => { window.batonSamePage = 'again'; }");
            clock.Advance(DesignDelay);
            await Expect(Fact("Status")).ToContainTextAsync("awaiting approval", new() { Timeout = Wait });
            await Expect(Fact("Iteration")).ToHaveTextAsync("2");
            Assert.Equal("again", await page.EvaluateAsync<string?>("() => window.batonSamePage ?? null"));
            await Shot("run-at-gate-iteration-2");

            // Approve: implementation, test and documentation run, and the page shows the run completed.
            await page.Locator("#approve-comment").FillAsync("Looks right now.");
            await page.Locator("form.action-approve").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
            await Expect(Fact("Status")).ToContainTextAsync("completed", new() { Timeout = Wait });
            await Expect(page.Locator("#live .timeline-chart")).ToContainTextAsync("document #", new() { Timeout = Wait });
            await Expect(page.Locator("#live form.action-approve")).ToHaveCountAsync(0);
            await Shot("run-completed");
            Assert.Equal("completed", (await api.GetRunAsync(runId)).Status);

            // The second iteration's spec, rendered from Markdown, carries the reviewer's feedback.
            await page.GetByRole(AriaRole.Tab, new() { Name = "Artifacts" }).ClickAsync();
            await page.Locator("#live a[href$='/artifacts/tech_spec.md?iteration=2']").ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "tech_spec.md" })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("article.artifact h1")).ToContainTextAsync("Technical specification");
            await Expect(page.Locator("article.artifact")).ToContainTextAsync("Cover keyboard shortcuts for switching themes.");
            await Shot("artifact-tech-spec");

            // A finished run's page does not listen: its stream would end at once and EventSource would reconnect
            // every few seconds for as long as the page stays open.
            var streams = new List<string>();
            page.Request += (_, r) =>
            {
                if (r.Url.Contains("/events", StringComparison.Ordinal))
                {
                    streams.Add(r.Url);
                }
            };
            await page.GotoAsync($"/runs/{runId}", new() { WaitUntil = WaitUntilState.NetworkIdle });
            await Expect(Fact("Status")).ToContainTextAsync("completed");
            Assert.Empty(streams);

            await page.GotoAsync("/");
            await Expect(page.Locator("table.runs")).ToContainTextAsync(runId, new() { Timeout = Wait });
            await Expect(page.Locator("table.runs tbody tr").First).ToContainTextAsync("completed");
            await Shot("runs-list");

            Assert.True(problems.Count == 0, "The browser reported problems:\n" + string.Join("\n", problems));
        }
        finally
        {
            await browser.CloseAsync();
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still be writing its profile as it exits; the temp folder is cleaned eventually.
            }
        }
    }

    /// <summary>Waits (polling the clock, not sleeping for a fixed time) until a timer of this length is pending.</summary>
    private static async Task WaitForTimerAsync(ManualClock clock, TimeSpan dueIn)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!clock.HasTimerDueIn(dueIn))
        {
            await Task.Delay(20, limit.Token);
        }
    }

    /// <summary>
    /// The real server on a free loopback port (Kestrel, not the in-memory test server), on a manual clock, with
    /// software_delivery's design phase taking <see cref="DesignDelay"/>: otherwise its template agents reach the
    /// gate before a browser has loaded the page, and the page would never have to update itself.
    /// </summary>
    private sealed class KestrelFactory : BatonFactory
    {
        public KestrelFactory(ManualClock clock)
            : base(clock, profiles: new Dictionary<string, string> { ["software_delivery"] = SlowDesign() })
        {
            UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        }

        public Uri Start()
        {
            StartServer();
            var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            return new Uri(addresses.Single());
        }

        private static string SlowDesign()
        {
            using var stream = typeof(ProfileCatalog).Assembly.GetManifestResourceStream("profiles/software_delivery.yaml")
                ?? throw new InvalidOperationException("The built-in software_delivery profile is not embedded.");
            var yaml = new StreamReader(stream).ReadToEnd();
            const string design = "  - name: design\n    worker: template\n";
            Assert.Contains(design, yaml, StringComparison.Ordinal);
            return yaml.Replace(design, design + $"    delay: {(int)DesignDelay.TotalSeconds}s\n", StringComparison.Ordinal);
        }
    }
}
