using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Profiles;
using Baton.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Baton.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's Chromium driven by Playwright) against the real server on a real port:
/// sign in, create a run, watch it reach its gate without reloading (live.js), reject, watch iteration 2 arrive (and
/// its log lines, logs.js), approve, see it complete, open every tab, compare the artifact's iterations; the runs list
/// updating itself and a bulk cancel; executions, workspaces, profiles and API keys reached by keyboard; the theme
/// toggle; a phone's width.
/// Screenshots of every state land in the test output folder's <c>screenshots</c>.
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output)
{
    /// <summary>The design phase takes this long on the test's manual clock, so the page is open before the gate opens.</summary>
    private static readonly TimeSpan DesignDelay = TimeSpan.FromSeconds(17);

    /// <summary>
    /// How long an expectation may take (ms): it returns as soon as it holds, and a loaded CI machine (Chromium, the
    /// server and the build sharing 2 cores) once needed more than 20 s.
    /// </summary>
    private const float Wait = 60_000;

    [Fact]
    public async Task A_run_reaches_its_gate_live_is_rejected_approved_and_completes_in_chromium()
    {
        Chromium.AssertInstalled();
        var shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        if (Directory.Exists(shots))
        {
            Directory.Delete(shots, recursive: true);
        }
        Directory.CreateDirectory(shots);
        output.WriteLine($"Screenshots: {shots}");

        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var factory = new KestrelBatonFactory(clock, new Dictionary<string, string> { ["software_delivery"] = SlowDesign() });
        var baseUrl = factory.Start();
        // The factory's own clients talk to the in-memory server's address; this one goes through the real port.
        using var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", BatonFactory.AdminToken);
        var api = new BatonClient(http);
        var profile = Directory.CreateTempSubdirectory("baton-chromium-");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Chromium.ExecutablePath,
            Headless = true,
            BaseURL = baseUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Args = Chromium.Args,
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
            // Each tab is a link to a page of its own; the current one is aria-current="page".
            ILocator Tab(string name) => page.Locator("nav.tabs").GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

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
            // The address is what this waits for, polled; the page's content is awaited below. Not WaitForURLAsync:
            // with the address already there it waits for a load state (Frame.WaitForLoadStateAsync in its stack),
            // and that timed out twice in CI with the run page shown (the page opens its live stream at once).
            await Expect(page).ToHaveURLAsync(new Regex(@"/runs/[^/]+$"), new() { Timeout = Wait });
            var runId = Uri.UnescapeDataString(new Uri(page.Url).AbsolutePath["/runs/".Length..]);
            output.WriteLine($"Run {runId} at {page.Url}");

            // The design phase is held on the manual clock: the page is open and shows the run working, not at its gate.
            await Eventually.TrueAsync(() => clock.HasTimerDueIn(DesignDelay), "the design phase sleeps");
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
            await Eventually.TrueAsync(() => clock.HasTimerDueIn(DesignDelay), "the design phase sleeps");
            await Expect(Fact("Iteration")).ToHaveTextAsync("2", new() { Timeout = Wait });
            await Expect(Fact("Status")).ToContainTextAsync("running", new() { Timeout = Wait });
            await Expect(page.Locator("#live table.phases")).ToContainTextAsync("rejected by");
            await Expect(page.Locator("#live table.phases")).ToContainTextAsync("Cover keyboard shortcuts for switching themes.");
            await Shot("after-reject");

            // The Logs tab tails the log live: iteration 2's design line arrives without a reload, on the page's one
            // event stream (live.js's, shared with logs.js: each stream holds one of the few connections a browser allows).
            var logTabStreams = new List<string>();
            page.Request += (_, r) =>
            {
                if (r.Url.Contains($"/runs/{runId}/events", StringComparison.Ordinal))
                {
                    logTabStreams.Add(r.Url);
                }
            };
            await Tab("Logs").ClickAsync();
            await Expect(Tab("Logs")).ToHaveAttributeAsync("aria-current", "page");
            var logLines = page.Locator("#log-lines li");
            await Expect(logLines.Filter(new() { HasText = "tech_spec.md" })).ToHaveCountAsync(1, new() { Timeout = Wait });
            await page.EvaluateAsync("() => { window.batonSamePage = 'again'; }");
            // Paused, the tail still collects lines but says how many came instead of scrolling to them.
            var follow = page.Locator("#log-follow");
            await Expect(follow).ToHaveAttributeAsync("aria-pressed", "true");
            await follow.ClickAsync();
            await Expect(follow).ToHaveAttributeAsync("aria-pressed", "false");
            clock.Advance(DesignDelay);
            await Expect(Fact("Status")).ToContainTextAsync("awaiting approval", new() { Timeout = Wait });
            await Expect(Fact("Iteration")).ToHaveTextAsync("2");
            await Expect(logLines.Filter(new() { HasText = "tech_spec.md" })).ToHaveCountAsync(2, new() { Timeout = Wait });
            await Expect(page.Locator("#log-new")).ToHaveTextAsync(new Regex(@"^\d+ new lines?$"));
            await Shot("run-logs-paused");
            await follow.ClickAsync();
            await Expect(follow).ToHaveAttributeAsync("aria-pressed", "true");
            await Expect(page.Locator("#log-new")).ToHaveTextAsync("");
            Assert.Equal("again", await page.EvaluateAsync<string?>("() => window.batonSamePage ?? null"));
            Assert.Single(logTabStreams);
            await Shot("run-at-gate-iteration-2-logs");

            // Approve (from the Phases tab): implementation, test and documentation run, and the page shows the run completed.
            await Tab("Phases").ClickAsync();
            await page.Locator("#approve-comment").FillAsync("Looks right now.");
            await page.Locator("form.action-approve").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
            await Expect(Fact("Status")).ToContainTextAsync("completed", new() { Timeout = Wait });
            await Expect(page.Locator("#live .timeline")).ToContainTextAsync("document #", new() { Timeout = Wait });
            await Expect(page.Locator("#live form.action-approve")).ToHaveCountAsync(0);
            await Shot("run-completed");
            Assert.Equal("completed", (await api.GetRunAsync(runId)).Status);

            // Every tab of the finished run.
            foreach (var (tab, expected) in new[]
            {
                ("Artifacts", "tech_spec.md"), ("Metrics", "design"), ("Logs", "documentation"), ("Events", "gate.rejected"), ("Phases", "approved by"),
            })
            {
                await Tab(tab).ClickAsync();
                await Expect(Tab(tab)).ToHaveAttributeAsync("aria-current", "page", new() { Timeout = Wait });
                await Expect(page.Locator("section.tab-panel")).ToContainTextAsync(expected, new() { Timeout = Wait });
                if (tab == "Metrics")
                {
                    await Expect(page.Locator("section.tab-panel svg").First).ToBeVisibleAsync();
                }
                await Shot($"run-tab-{tab.ToLowerInvariant()}");
            }

            // Artifacts: the compare view between the two iterations of the spec, then iteration 2 rendered from Markdown.
            await Tab("Artifacts").ClickAsync();
            await page.Locator("section.tab-panel a.compare[href*='tech_spec.md/compare']").ClickAsync();
            await Expect(page.Locator("table.diff tr.diff-add").First).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("table.diff")).ToContainTextAsync("Cover keyboard shortcuts for switching themes.");
            await Shot("artifact-compare");
            await page.GotoAsync($"/runs/{Uri.EscapeDataString(runId)}/artifacts/tech_spec.md?iteration=2");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "tech_spec.md" })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("article.artifact h1")).ToContainTextAsync("Technical specification");
            await Expect(page.Locator("article.artifact")).ToContainTextAsync("Cover keyboard shortcuts for switching themes.");
            await Shot("artifact-tech-spec");

            // A finished run's page does not listen: its stream would end at once and EventSource would reconnect
            // every few seconds for as long as the page stays open.
            var streams = new List<string>();
            page.Request += (_, r) =>
            {
                if (r.Url.Contains($"/runs/{runId}/events", StringComparison.Ordinal))
                {
                    streams.Add(r.Url);
                }
            };
            await page.GotoAsync($"/runs/{runId}", new() { WaitUntil = WaitUntilState.NetworkIdle });
            await Expect(Fact("Status")).ToContainTextAsync("completed");
            Assert.Empty(streams);

            // The runs list updates itself: a run created elsewhere appears without a reload; then a bulk cancel.
            await page.GotoAsync("/");
            await Expect(page.Locator("table.runs")).ToContainTextAsync(runId, new() { Timeout = Wait });
            await Expect(page.Locator("table.runs tbody tr").First).ToContainTextAsync("completed");
            await page.EvaluateAsync("() => { window.batonSamePage = 'list'; }");
            var other = await api.CreateRunAsync(new CreateRunRequest("software_delivery", "# Export\n\nCSV export of the runs list.", ProjectName: "csv-export"));
            var otherRow = page.Locator($"table.runs tbody tr[data-run='{other.RunId}']");
            await Expect(otherRow).ToContainTextAsync("running", new() { Timeout = Wait });
            Assert.Equal("list", await page.EvaluateAsync<string?>("() => window.batonSamePage ?? null"));
            await Shot("runs-list-live");
            await otherRow.GetByRole(AriaRole.Checkbox).CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Cancel selected" }).ClickAsync();
            await Expect(page.Locator("main [role=status]").First).ToContainTextAsync("1 cancelled", new() { Timeout = Wait });
            await Expect(otherRow).ToContainTextAsync("cancelled", new() { Timeout = Wait });
            await Shot("runs-list-bulk-cancelled");

            // The other sections, through the keyboard: "g" then a letter; "?" shows the shortcuts.
            await page.Keyboard.PressAsync("?");
            await Expect(page.Locator("#keys-help")).ToBeVisibleAsync();
            await Shot("keyboard-help");
            await page.Keyboard.PressAsync("Escape");
            await page.Keyboard.PressAsync("g");
            await page.Keyboard.PressAsync("e");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Executions", Exact = true })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("main")).ToContainTextAsync(runId);
            await Shot("executions");
            await page.Locator($"main a[href^='/executions/']").First.ClickAsync();
            await Expect(page.Locator("main")).ToContainTextAsync("template", new() { Timeout = Wait });
            await Shot("execution");
            await page.Keyboard.PressAsync("g");
            await page.Keyboard.PressAsync("w");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Workspaces", Exact = true })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Shot("workspaces");
            await page.Keyboard.PressAsync("g");
            await page.Keyboard.PressAsync("p");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Profiles", Exact = true })).ToBeVisibleAsync(new() { Timeout = Wait });
            await Shot("profiles");
            await page.Locator("main a[href='/profiles/software_delivery']").First.ClickAsync();
            await Expect(page.Locator("main svg[role=img]").First).ToBeVisibleAsync(new() { Timeout = Wait });
            await Expect(page.Locator("main")).ToContainTextAsync("implementation");
            await Shot("profile-software-delivery");

            // API keys (admin): a new key's token is shown once.
            await page.Keyboard.PressAsync("g");
            await page.Keyboard.PressAsync("k");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API keys", Exact = true })).ToBeVisibleAsync(new() { Timeout = Wait });
            await page.Locator("#key-name").FillAsync("ci-bot");
            await page.Locator("#key-role").SelectOptionAsync("viewer");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Key created" })).ToBeVisibleAsync(new() { Timeout = Wait });
            Assert.StartsWith("bat_", await page.Locator("#new-token").InputValueAsync(), StringComparison.Ordinal);
            await Shot("key-created");

            // The dark theme, chosen once, stays chosen; and the pages work at a phone's width.
            await page.GotoAsync($"/runs/{runId}");
            // The page applies the theme at once and saves it in the background: the reload waits for the save (it
            // read "auto" once in CI when it came first).
            await page.RunAndWaitForResponseAsync(() => page.Locator("form.theme button").ClickAsync(),
                r => r.Url.EndsWith("/theme", StringComparison.Ordinal) && r.Request.Method == "POST");
            await Expect(page.Locator("html")).ToHaveAttributeAsync("data-theme", new Regex("dark|light"));
            var chosen = await page.Locator("html").GetAttributeAsync("data-theme");
            await page.ReloadAsync();
            await Expect(page.Locator("html")).ToHaveAttributeAsync("data-theme", chosen!);
            await Shot($"run-{chosen}-theme");
            await page.SetViewportSizeAsync(390, 844);
            await Shot("run-phone");
            await page.GotoAsync("/");
            await Expect(page.Locator("table.runs")).ToContainTextAsync(runId);
            await Shot("runs-list-phone");

            Assert.True(problems.Count == 0, "The browser reported problems:\n" + string.Join("\n", problems));
        }
        catch when (browser.Pages.Count > 0)
        {
            // A rare CI timeout left no trace: say where the page was and what it showed.
            var page = browser.Pages[0];
            try
            {
                output.WriteLine($"Failed at {page.Url}:\n{await page.InnerTextAsync("body", new() { Timeout = 5_000 })}");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "failure.png"), FullPage = true, Timeout = 5_000 });
            }
            catch (PlaywrightException)
            {
                // The page is gone or stuck too: the test's own error is what matters.
            }
            throw;
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

    /// <summary>
    /// The real server on a free loopback port (Kestrel, not the in-memory test server), on a manual clock, with
    /// software_delivery's design phase taking <see cref="DesignDelay"/>: otherwise its template agents reach the
    /// gate before a browser has loaded the page, and the page would never have to update itself.
    /// </summary>
    /// <summary>The built-in software_delivery profile, with a design phase slow enough (on the manual clock) to watch.</summary>
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
