using System.Net;
using System.Text;
using Baton.Artifacts;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>A server whose profile writes one artifact of every kind, behind a gate, so a rejection makes a second iteration.</summary>
public sealed class ArtifactFactory() : BatonFactory(profiles: new Dictionary<string, string> { ["artful"] = Profile })
{
    private const string Profile = """
        name: artful
        max_iterations: 3
        phases:
          - name: write
            produces: [notes.md, data.json, change.patch, flow.mmd, seq.mmd, blob.bin, big.txt]
            templates:
              notes.md: |
                # Notes <em>for</em> {{iteration}}

                <script>alert('md')</script>

                [bad](javascript:alert(1)) [good](https://example.com)

                Iteration {{iteration}}
                Feedback: {{feedback}}

                ```mermaid
                graph LR
                  Plan[Plan it] --> Ship((Ship it))
                ```

                ## Attributes {#main .notice onclick="alert('attr')"}

                ::: notice
                not a page notice
                :::
              data.json: '{"iteration":{{iteration}},"tag":"<b>x</b>"}'
              change.patch: |
                diff --git a/app.txt b/app.txt
                --- a/app.txt
                +++ b/app.txt
                @@ -1,2 +1,2 @@
                 same
                -old <i>{{iteration}}</i>
                +new {{iteration}}
              flow.mmd: |
                graph TD
                  Start[Write the draft] --> Review{Review <it>}
                  Review -->|approve| Done([Published])
              seq.mmd: |
                sequenceDiagram
                  Alice->>Bob: hi <b>there</b>
              blob.bin: "\0\x01binary"
              big.txt: "{{intake}}"
            gate:
              timeout: 1h
              on_timeout: expire
              reject_to: [write]
          - name: publish
            produces: [published.md]
        """;
}

public class ArtifactPageTests(ArtifactFactory factory) : IClassFixture<ArtifactFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role = "viewer") => Browser.SignedInAsync(factory, role);

    private async Task<string> AtGateAsync(string intake = "Write it.")
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("artful", intake));
        await _admin.WaitForGateAsync(run.RunId, "write", 1);
        return run.RunId;
    }

    /// <summary>A run whose write phase ran twice: rejected once with feedback, at the gate again.</summary>
    private async Task<string> TwoIterationsAsync()
    {
        var runId = await AtGateAsync();
        await _admin.RejectAsync(runId, "More detail");
        await _admin.WaitForGateAsync(runId, "write", 2);
        return runId;
    }

    private static string Path(string runId, string name, string rest = "") => $"/runs/{runId}/artifacts/{Uri.EscapeDataString(name)}{rest}";

    [Fact]
    public async Task Markdown_is_rendered_sanitized_with_its_mermaid_block_drawn()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        var page = await browser.GetAsync(Path(runId, "notes.md"));
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("<div class=\"markdown\">", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", page.Html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<em>for</em>", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("javascript:", page.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.com\"", page.Html, StringComparison.Ordinal);
        // No attributes, ids or classes of the artifact's own on the page.
        Assert.DoesNotContain("onclick", page.Html.Replace("{#main .notice onclick=", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"main\" class=\"notice\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("<h2>Attributes", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<div class=\"notice\">", page.Html, StringComparison.Ordinal);
        Assert.Contains("<svg class=\"flowchart\"", page.Html, StringComparison.Ordinal);
        Assert.Contains(">Plan it</text>", page.Html, StringComparison.Ordinal);
        Assert.Contains(">Ship it</text>", page.Html, StringComparison.Ordinal);
        // The header: phase, iteration, media type, size, short hash, created.
        Assert.Contains("<dt>Phase</dt><dd>write</dd>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<code>text/markdown; charset=utf-8</code>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<dt>SHA-256</dt>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<time datetime=", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md/raw?iteration=1\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", page.Csp, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_is_pretty_printed_and_a_patch_is_coloured()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        var json = await browser.GetAsync(Path(runId, "data.json"));
        Assert.Contains("{&#xA;  &quot;iteration&quot;: 1,&#xA;  &quot;tag&quot;: &quot;\\u003Cb\\u003Ex\\u003C/b\\u003E&quot;", json.Html, StringComparison.Ordinal);

        var patch = await browser.GetAsync(Path(runId, "change.patch"));
        Assert.Contains("<pre class=\"patch\">", patch.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-file\">diff --git a/app.txt b/app.txt</span>", patch.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-hunk\">@@ -1,2 &#x2B;1,2 @@</span>", patch.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-del\">-old &lt;i&gt;1&lt;/i&gt;</span>", patch.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-add\">&#x2B;new 1</span>", patch.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-context\"> same</span>", patch.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mermaid_flowchart_is_drawn_and_another_diagram_is_shown_as_source()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        var flow = await browser.GetAsync(Path(runId, "flow.mmd"));
        Assert.Equal(HttpStatusCode.OK, flow.Status);
        Assert.Contains("<svg class=\"flowchart\"", flow.Html, StringComparison.Ordinal);
        Assert.Contains(">Write the draft</text>", flow.Html, StringComparison.Ordinal);
        Assert.Contains(">Review &lt;it&gt;</text>", flow.Html, StringComparison.Ordinal);
        Assert.Contains(">approve</text>", flow.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<it>", flow.Html, StringComparison.Ordinal);

        var seq = await browser.GetAsync(Path(runId, "seq.mmd"));
        Assert.Contains("only flowcharts are drawn here", seq.Html, StringComparison.Ordinal);
        Assert.Contains("Alice-&gt;&gt;Bob: hi &lt;b&gt;there&lt;/b&gt;", seq.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg class=\"flowchart\"", seq.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_content_is_a_note_with_a_download_link()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        var page = await browser.GetAsync(Path(runId, "blob.bin"));
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("Binary content (8 bytes)", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/blob.bin/raw?iteration=1\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_version_is_listed_and_the_compare_page_shows_the_changed_lines()
    {
        var runId = await TwoIterationsAsync();
        using var browser = await SignedInAsync();

        var latest = await browser.GetAsync(Path(runId, "notes.md"));
        Assert.Contains("Iteration 2", latest.Html, StringComparison.Ordinal);
        Assert.Contains($"<a href=\"/runs/{runId}/artifacts/notes.md?iteration=2\" aria-current=\"page\">Iteration 2</a>", latest.Html, StringComparison.Ordinal);
        Assert.Contains($"<a href=\"/runs/{runId}/artifacts/notes.md?iteration=1\">Iteration 1</a>", latest.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md/compare?from=1&amp;to=2\"", latest.Html, StringComparison.Ordinal);

        var first = await browser.GetAsync(Path(runId, "notes.md", "?iteration=1"));
        Assert.Contains($"<a href=\"/runs/{runId}/artifacts/notes.md?iteration=1\" aria-current=\"page\">Iteration 1</a>", first.Html, StringComparison.Ordinal);

        // No from or to: the latest against the one before it.
        var compare = await browser.GetAsync(Path(runId, "notes.md", "/compare"));
        Assert.Equal(HttpStatusCode.OK, compare.Status);
        Assert.Contains("iteration 1 → 2", compare.Html, StringComparison.Ordinal);
        // Decoded: the encoder writes + and − as character references.
        var text = WebUtility.HtmlDecode(compare.Html);
        Assert.Contains("<span class=\"diff-added\">+3</span> <span class=\"diff-removed\">−3</span> lines", text, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"diff-del\"><td class=\"num ln\">7</td><td class=\"num ln\"></td><td class=\"code\"><span class=\"diff-sign\">−</span>Iteration 1</td></tr>", text, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"diff-add\"><td class=\"num ln\"></td><td class=\"num ln\">7</td><td class=\"code\"><span class=\"diff-sign\">+</span>Iteration 2</td></tr>", text, StringComparison.Ordinal);
        Assert.Contains("<span class=\"diff-sign\">+</span>Feedback: More detail", text, StringComparison.Ordinal);
        Assert.Contains("<span class=\"diff-sign\">−</span>Feedback: (none)", text, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(", compare.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", compare.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"1\" selected>", compare.Html, StringComparison.Ordinal);

        var reversed = await browser.GetAsync(Path(runId, "notes.md", "/compare?from=2&to=1"));
        Assert.Contains("<span class=\"diff-sign\">+</span>Iteration 1", WebUtility.HtmlDecode(reversed.Html), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_huge_comparison_says_it_is_too_large()
    {
        var runId = await AtGateAsync(string.Join("\n", Enumerable.Range(0, 12_000).Select(i => "line " + i)));
        await _admin.RejectAsync(runId, "again");
        await _admin.WaitForGateAsync(runId, "write", 2);
        using var browser = await SignedInAsync();
        var compare = await browser.GetAsync(Path(runId, "big.txt", "/compare?from=1&to=2"));
        Assert.Equal(HttpStatusCode.OK, compare.Status);
        Assert.Contains("too large to compare here (24,000 lines", compare.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("?from=abc&to=2", "&#x27;abc&#x27; is not an iteration number")]
    [InlineData("?from=1&to=9", "There is no iteration 9 of this artifact")]
    [InlineData("?from=2&to=2", "both iteration 2")]
    [InlineData("?from=1&to=99999999999999", "is not an iteration number")]
    [InlineData("?to=1", "Iteration 1 is the first version")]
    public async Task Bad_from_or_to_is_a_400_with_the_versions_that_exist(string query, string message)
    {
        var runId = await TwoIterationsAsync();
        using var browser = await SignedInAsync();
        var page = await browser.GetAsync(Path(runId, "notes.md", "/compare" + query));
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains(message, page.Html, StringComparison.Ordinal);
        Assert.Contains("role=\"alert\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md?iteration=1\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md?iteration=2\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md/compare?from=1&amp;to=2\">Compare the last two versions</a>", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_single_version_has_nothing_to_compare()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        var page = await browser.GetAsync(Path(runId, "notes.md", "/compare"));
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        Assert.Contains("There is only one version (iteration 1) of this artifact", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_runs_artifacts_and_iterations_are_clear_pages()
    {
        var runId = await AtGateAsync();
        using var browser = await SignedInAsync();
        foreach (var rest in new[] { "", "/compare", "/raw" })
        {
            var noRun = await browser.GetAsync(Path("run_nope", "notes.md", rest));
            Assert.Equal(HttpStatusCode.NotFound, noRun.Status);
            Assert.Contains("There is no run &#x27;run_nope&#x27;.", noRun.Html, StringComparison.Ordinal);
            var noArtifact = await browser.GetAsync(Path(runId, "nope.md", rest));
            Assert.Equal(HttpStatusCode.NotFound, noArtifact.Status);
            Assert.Contains("has no artifact &#x27;nope.md&#x27;", noArtifact.Html, StringComparison.Ordinal);
        }
        var missing = await browser.GetAsync(Path(runId, "notes.md", "?iteration=7"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Contains("in iteration 7", missing.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/runs/{runId}/artifacts/notes.md?iteration=1\"", missing.Html, StringComparison.Ordinal);
        var malformed = await browser.GetAsync(Path(runId, "notes.md", "?iteration=x1"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        Assert.Contains("&#x27;x1&#x27; is not an iteration number.", malformed.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.GetAsync(Path(runId, "notes.md", "/raw?iteration=-1"))).Status);
    }

    [Fact]
    public async Task Raw_is_an_attachment_with_the_media_type_and_nosniff()
    {
        var runId = await TwoIterationsAsync();
        using var browser = await SignedInAsync();
        using var response = await browser.Raw.GetAsync(Path(runId, "notes.md", "/raw?iteration=1"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/markdown; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("notes-iteration-1.md", response.Content.Headers.ContentDisposition?.FileNameStar);
        Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Contains("Iteration 1", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var binary = await browser.Raw.GetAsync(Path(runId, "blob.bin", "/raw"));
        Assert.Equal([0, 1, .. "binary"u8.ToArray()], await binary.Content.ReadAsByteArrayAsync());
        var compared = await browser.GetAsync(Path(runId, "blob.bin", "/compare"));
        Assert.Equal(HttpStatusCode.OK, compared.Status);
        Assert.Contains("binary content: download the two versions to compare them", compared.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_artifact_name_with_a_slash_and_markup_still_routes_and_is_encoded()
    {
        var runId = await AtGateAsync();
        const string name = "dir/<b>odd</b> name.md";
        var db = factory.Service<Database>();
        await db.WriteAsync((c, tx) => ArtifactStore.SaveAsync(c, tx, runId, "write", 1, name, "# Odd", DateTimeOffset.UtcNow));
        using var browser = await SignedInAsync();
        var page = await browser.GetAsync(Path(runId, name));
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("<h1>dir/&lt;b&gt;odd&lt;/b&gt; name.md</h1>", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>odd</b>", page.Html, StringComparison.Ordinal);
        using var raw = await browser.Raw.GetAsync(Path(runId, name, "/raw"));
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal("dir__b_odd__b__name-iteration-1.md", raw.Content.Headers.ContentDisposition?.FileNameStar);
    }

    [Theory]
    [InlineData(null, null, 2, 3, null)]
    [InlineData("", "2", 1, 2, null)]
    [InlineData("3", "1", 3, 1, null)]
    [InlineData("1", null, 1, 3, null)]
    [InlineData(null, "1", 0, 0, "Iteration 1 is the first version")]
    [InlineData("2", "2", 0, 0, "both iteration 2")]
    [InlineData(" 2", null, 0, 0, "is not an iteration number")]
    [InlineData("-1", null, 0, 0, "is not an iteration number")]
    [InlineData("4", null, 0, 0, "There is no iteration 4")]
    public void Comparisons_default_to_the_latest_and_the_one_before(string? from, string? to, int older, int newer, string? problem)
    {
        var chosen = Baton.Dashboard.ArtifactPages.ChooseComparison(from, to, [1, 2, 3]);
        if (problem is null)
        {
            Assert.Equal((older, newer, (string?)null), chosen);
        }
        else
        {
            Assert.Contains(problem, chosen.Problem, StringComparison.Ordinal);
            Assert.Contains("1, 2, 3", chosen.Problem, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("notes.md", 1, "notes-iteration-1.md")]
    [InlineData("../../etc/passwd", 2, "_.._etc_passwd-iteration-2")]
    [InlineData("a\"b;c.txt", 3, "a_b_c-iteration-3.txt")]
    [InlineData("...", 1, "artifact-iteration-1")]
    public void Download_names_are_safe(string name, int iteration, string expected) =>
        Assert.Equal(expected, Baton.Dashboard.ArtifactPages.DownloadName(name, iteration));

    [Fact]
    public void Markdown_rendering_keeps_plain_code_blocks_and_draws_only_mermaid_ones()
    {
        var html = Baton.Dashboard.ArtifactPages.Render("x.md", "text/markdown", Encoding.UTF8.GetBytes(
            "```csharp\nvar x = \"<b>\";\n```\n\n```mermaid\nsequenceDiagram\nA->>B: hi\n```\n")).Value;
        Assert.Contains("<code class=\"language-csharp\">var x = &quot;&lt;b&gt;&quot;;", html, StringComparison.Ordinal);
        Assert.Contains("only flowcharts are drawn here", html, StringComparison.Ordinal);
        Assert.Contains("A-&gt;&gt;B: hi", html, StringComparison.Ordinal);
    }
}
