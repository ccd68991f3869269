using System.Net;
using System.Net.Http.Headers;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Abuse;

/// <summary>
/// What users and agents write (an intake, a project name, gate feedback and comments) is shown as text on every
/// dashboard page that shows it: parsed as a browser would (AngleSharp), no page has an element, attribute or link that
/// the content injected, and the intake reads back exactly as written.
/// </summary>
public sealed class HostileContentRenderingTests : IDisposable
{
    /// <summary>Each payload leaves a marker in what it would run, so any injected script or handler is found by it.</summary>
    private const string Hostile =
        "<script>alert('pwn-1')</script> <img src=x onerror=\"alert('pwn-2')\"> \"><svg onload=alert('pwn-3')> " +
        "</pre></section><iframe src=\"javascript:alert('pwn-4')\"></iframe> <a href=\"javascript:alert('pwn-5')\">link</a> " +
        "<style>body{background:url(javascript:alert('pwn-6'))}</style> <!-- --> ]]> {{7*7}} @(1+1) \u202Egnp.exe \U0001F600";

    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string>
    {
        ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    });

    [Fact]
    public async Task Hostile_intake_names_and_feedback_are_text_on_every_page_that_shows_them()
    {
        var admin = _factory.Client();
        var run = await admin.CreateRunAsync(new CreateRunRequest("gated", Hostile, "proj " + Hostile[..60]));
        await admin.WaitForGateAsync(run.RunId, "draft", 1);
        await admin.RejectAsync(run.RunId, "feedback " + Hostile, "draft");
        await admin.WaitForGateAsync(run.RunId, "draft", 2);
        await admin.ApproveAsync(run.RunId, "comment " + Hostile);
        var runId = run.RunId;

        var detail = await PageAsync($"/runs/{runId}");
        Assert.Equal(Hostile, detail.QuerySelector("pre.intake")?.TextContent);
        // The run's pages as a browser reaches them: its tabs, the executions (prompts carry the intake and feedback) and
        // the artifacts (what the agent wrote), followed from link to link.
        var pages = new List<string> { "/", "/inbox", "/executions", $"/runs/{runId}" };
        for (var i = 0; i < pages.Count && pages.Count < 80; i++)
        {
            var links = (await PageAsync(pages[i])).QuerySelectorAll("a[href]").Select(a => a.GetAttribute("href")!)
                .Where(h => h.StartsWith($"/runs/{runId}", StringComparison.Ordinal) || h.StartsWith("/executions/", StringComparison.Ordinal))
                .Where(h => !h.Contains("/events", StringComparison.Ordinal) && !h.EndsWith(".txt", StringComparison.Ordinal) && !h.Contains("/raw", StringComparison.Ordinal));
            pages.AddRange(links.Where(h => !pages.Contains(h)).Distinct(StringComparer.Ordinal).ToList());
        }
        Assert.Contains(pages, p => p.StartsWith("/executions/", StringComparison.Ordinal));
        Assert.Contains(pages, p => p.StartsWith($"/runs/{runId}/artifacts/", StringComparison.Ordinal));

        foreach (var path in pages)
        {
            var page = await PageAsync(path);
            foreach (var element in page.QuerySelectorAll("*"))
            {
                var injected = element.Attributes.Where(a => a.Value.Contains("pwn-", StringComparison.Ordinal)).Select(a => a.Name).ToList();
                Assert.True(injected.Count == 0, $"{path}: <{element.LocalName}> has attributes the content wrote: {string.Join(", ", injected)}");
                if (element.LocalName is "script" or "style" or "iframe" or "svg" or "img" or "a")
                {
                    Assert.DoesNotContain("pwn-", element.LocalName is "script" or "style" ? element.TextContent : element.OuterHtml, StringComparison.Ordinal);
                }
            }
            Assert.DoesNotContain(page.QuerySelectorAll("[href], [src], [action]"),
                e => (e.GetAttribute("href") ?? e.GetAttribute("src") ?? e.GetAttribute("action"))!.TrimStart().StartsWith("javascript:", StringComparison.OrdinalIgnoreCase));
        }
    }

    private async Task<IDocument> PageAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BatonFactory.AdminToken);
        using var response = await _factory.Http(token: null).SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        return await new HtmlParser().ParseDocumentAsync(await response.Content.ReadAsStringAsync());
    }

    public void Dispose() => _factory.Dispose();
}
