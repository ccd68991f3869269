using System.Diagnostics;
using System.Net;
using System.Text;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>A profile whose artifacts are the intake as it is, as Markdown and as Mermaid: a test chooses the bytes.</summary>
public sealed class IntakeArtifactFactory() : BatonFactory(profiles: new Dictionary<string, string> { ["echo"] = Profile })
{
    private const string Profile = """
        name: echo
        phases:
          - name: write
            produces: [doc.md, chart.mmd]
            templates:
              doc.md: "{{intake}}"
              chart.mmd: "{{intake}}"
            gate:
              timeout: 1h
              on_timeout: expire
          - name: publish
        """;
}

/// <summary>
/// Artifacts are untrusted text: Markdown and Mermaid that would take seconds of work, or nest deeper than the renderer
/// goes, answer at once with the text shown as it is and a note, never a 500; a rendering is computed once per content.
/// </summary>
public class RenderLimitsTests(IntakeArtifactFactory factory) : IClassFixture<IntakeArtifactFactory>
{
    /// <summary>Generous: a page answers in milliseconds; the bombs took 7.6 s and 13.4 s before the limits.</summary>
    private static readonly TimeSpan Answers = TimeSpan.FromSeconds(5);

    private readonly BatonClient _admin = factory.Client();

    private async Task<string> RunWithAsync(string intake)
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("echo", intake));
        await _admin.WaitForGateAsync(run.RunId, "write", 1);
        return run.RunId;
    }

    private static string PathOf(string runId, string name) => $"/runs/{runId}/artifacts/{Uri.EscapeDataString(name)}";

    /// <summary>A chain across 300 layers, then thousands of edges from its first node to its last: every one of them crosses every layer.</summary>
    public static string MermaidBomb()
    {
        var text = new StringBuilder("graph TD\n");
        text.AppendJoin("-->", Enumerable.Range(0, 299).Select(i => $"n{i}")).Append('\n');
        while (text.Length < 49_000)
        {
            text.Append("n0-->n298\n");
        }
        return text.ToString();
    }

    public static TheoryData<string, string> Bombs() => new()
    {
        { "chart.mmd", MermaidBomb() },
        { "doc.md", "# Diagram\n\n```mermaid\n" + MermaidBomb() + "```\n" },
        { "doc.md", string.Concat(Enumerable.Repeat("[a](", 50_000)) },
        { "doc.md", new string('>', 10_000) + " deep" },
        { "doc.md", string.Concat(Enumerable.Range(0, 1_000).Select(i => new string(' ', i * 2) + "- item\n")) },
        { "doc.md", new string('[', 20_000) + "x" + new string(']', 20_000) },
    };

    [Theory]
    [MemberData(nameof(Bombs))]
    public async Task A_bomb_answers_fast_with_the_text_as_it_is(string artifact, string intake)
    {
        var runId = await RunWithAsync(intake);
        using var browser = await Browser.SignedInAsync(factory, "viewer");
        var clock = Stopwatch.StartNew();
        var page = await browser.GetAsync(PathOf(runId, artifact));
        clock.Stop();

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.True(clock.Elapsed < Answers, $"the page took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains("class=\"render-fallback\"", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg class=\"flowchart\"", page.Html, StringComparison.Ordinal);
        // The text is there, encoded, for reading (a Markdown document's diagram: its source).
        var shown = intake.Contains("```mermaid", StringComparison.Ordinal) ? MermaidBomb() : intake;
        Assert.Contains(Html.Encode(shown[..40]), page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_view_of_the_same_content_is_not_rendered_again()
    {
        var runId = await RunWithAsync("# Cached\n\n```mermaid\ngraph LR\n  A --> B\n```\n");
        using var browser = await Browser.SignedInAsync(factory, "viewer");
        var renderings = factory.Service<RenderCache>();

        var before = renderings.Computed;
        var first = await browser.GetAsync(PathOf(runId, "doc.md"));
        Assert.Equal(before + 1, renderings.Computed);
        var second = await browser.GetAsync(PathOf(runId, "doc.md"));
        Assert.Equal(before + 1, renderings.Computed);

        Assert.Contains("<h1>Cached</h1>", first.Html, StringComparison.Ordinal);
        Assert.Contains("<svg class=\"flowchart\"", second.Html, StringComparison.Ordinal);
        // The same bytes as another kind are another rendering.
        await browser.GetAsync(PathOf(runId, "chart.mmd"));
        Assert.Equal(before + 2, renderings.Computed);
    }
}
