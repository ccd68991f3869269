using Baton.Client;
using Baton.Tests.Gates;
using Baton.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Baton.Tests.Dashboard;

/// <summary>
/// Two approvers in two browser sessions (Debian's Chromium, two contexts) against the real server on a real port
/// (issue 13): the second's top-bar inbox count drops without a reload when the first decides, and the second
/// completes a two-approval gate with a form value that the next phase's artifact then holds.
/// </summary>
public sealed class GateBrowserTests
{
    /// <summary>How long an expectation may take (ms): it returns as soon as it holds (2 shared cores can be slow).</summary>
    private const float Wait = 60_000;

    [Fact]
    public async Task Two_approvers_in_two_sessions_see_the_inbox_live_and_the_second_completes_the_gate_with_its_form()
    {
        Chromium.AssertInstalled();
        await using var factory = new KestrelBatonFactory(profiles: new Dictionary<string, string>
        {
            ["quick_review"] = "name: quick_review\nphases:\n  - name: draft\n    produces: [draft.md]\n    gate: {}\n  - name: publish\n    produces: [published.md]\n",
            ["two_keys"] = GateFactory.TwoKeys,
        });
        var baseUrl = factory.Start();
        using var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", BatonFactory.AdminToken);
        var api = new BatonClient(http);
        var ann = await api.CreateKeyAsync(new CreateKeyRequest("ann", "approver"));
        var bob = await api.CreateKeyAsync(new CreateKeyRequest("bob", "approver"));

        // One run waits at a one-approval gate, the other at a two-approval gate with a form.
        var quick = (await api.CreateRunAsync(new CreateRunRequest("quick_review", "x"))).RunId;
        var pair = (await api.CreateRunAsync(new CreateRunRequest("two_keys", "y"))).RunId;
        await api.WaitForGateAsync(quick, "draft", 1);
        await api.WaitForGateAsync(pair, "draft", 1);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium.ExecutablePath,
            Headless = true,
            Args = Chromium.Args,
        });
        var problems = new List<string>();
        async Task<IPage> SignInAsync(string token)
        {
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
            var page = await context.NewPageAsync();
            page.Console += (_, m) =>
            {
                if (m.Type == "error")
                {
                    problems.Add($"console: {m.Text}");
                }
            };
            page.PageError += (_, e) => problems.Add($"page error: {e}");
            await page.GotoAsync("/signin");
            await page.Locator("#api_key").FillAsync(token);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Runs" })).ToBeVisibleAsync(new() { Timeout = Wait });
            return page;
        }
        var first = await SignInAsync(ann.Token);
        var second = await SignInAsync(bob.Token);
        ILocator Count(IPage page) => page.Locator("[data-inbox-count]");
        ILocator Row(IPage page, string runId) => page.Locator($"#inbox-live tr[data-run='{runId}']");

        // The second session watches its inbox; the page is never reloaded (the marker survives).
        await second.GotoAsync("/inbox");
        await Expect(Count(second)).ToHaveTextAsync("2", new() { Timeout = Wait });
        await Expect(Row(second, pair)).ToContainTextAsync("0 of 2");
        await second.EvaluateAsync("() => { window.batonSamePage = 'still'; }");

        // The first approves the one-approval gate: it leaves both inboxes, and the second's count drops live.
        await first.GotoAsync($"/runs/{quick}");
        await first.Locator("form.action-approve").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Expect(Count(second)).ToHaveTextAsync("1", new() { Timeout = Wait });
        await Expect(Row(second, quick)).ToHaveCountAsync(0, new() { Timeout = Wait });

        // The first gives the two-approval gate its first approval, with a ticket of its own.
        await first.GotoAsync($"/runs/{pair}");
        await first.Locator("#approve-input-ticket").FillAsync("CHG-1");
        await first.Locator("form.action-approve").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Expect(first.Locator(".gate-progress")).ToContainTextAsync("1 of 2 approvals: ann", new() { Timeout = Wait });
        await Expect(Count(first)).ToBeHiddenAsync(new() { Timeout = Wait });
        // The second still has it to decide, now with one approval of two; still the same page.
        await Expect(Row(second, pair)).ToContainTextAsync("1 of 2", new() { Timeout = Wait });
        await Expect(Count(second)).ToHaveTextAsync("1");
        Assert.Equal("still", await second.EvaluateAsync<string?>("() => window.batonSamePage ?? null"));

        // The second opens the run from its inbox and completes the gate with its own ticket.
        await Row(second, pair).GetByRole(AriaRole.Link, new() { Name = pair }).ClickAsync();
        await Expect(second.Locator(".gate-progress")).ToContainTextAsync("1 of 2 approvals: ann", new() { Timeout = Wait });
        await second.Locator("#approve-input-ticket").FillAsync("CHG-42");
        await second.Locator("#approve-comment").FillAsync("second pair of eyes");
        await second.Locator("form.action-approve").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        // The gate opened: the run went on (what the page shows after the approval's redirect), and its next phase ran
        // (waited for through the API: on a busy machine the phase may take longer than the page's expectations wait).
        await Expect(second.Locator("#live dl.facts dt:text-is('Status') + dd")).Not.ToContainTextAsync("awaiting_approval", new() { Timeout = Wait });
        await Expect(Count(second)).ToBeHiddenAsync();
        await api.WaitForStatusAsync(pair, "completed");

        // The latest approval's value is the one the next phase's template wrote.
        Assert.Equal("ticket=CHG-42", await api.GetArtifactAsync(pair, "published.md"));
        var approved = (await api.EventsOfAsync(pair)).Single(e => e.Type == "gate.approved");
        Assert.Equal("bob", approved.Actor);
        Assert.Empty(problems);
    }
}
