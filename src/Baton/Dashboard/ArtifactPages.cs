using System.Globalization;
using System.Text;
using System.Text.Json;
using Baton.Artifacts;
using Baton.Dashboard.Components;
using Baton.Storage;
using Markdig;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Syntax;

namespace Baton.Dashboard;

/// <summary>An artifact's pages: one version rendered by kind, two versions compared, and the bytes as a download.</summary>
public static class ArtifactPages
{
    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/runs/{id}/artifacts/{name}", ShowAsync);
        pages.MapGet("/runs/{id}/artifacts/{name}/compare", CompareAsync);
        pages.MapGet("/runs/{id}/artifacts/{name}/raw", RawAsync);
    }

    /// <summary>The link to a version (or the latest) of an artifact, with the name as one path segment.</summary>
    public static string Link(string runId, string name, string? suffix = null) =>
        DashboardPages.RunUrl(runId, $"/artifacts/{Uri.EscapeDataString(name)}{suffix}");

    public static async Task<IResult> ShowAsync(string id, string name, string? iteration, Database db, RenderCache renderings)
    {
        var (versions, row, problem) = await VersionAsync(db, id, SegmentName(name), iteration);
        if (problem is not null)
        {
            return problem;
        }
        // Blobs are content-addressed, so the stored sha256 is the content's: a cached rendering needs no blob read.
        var kind = KindOf(row!.Name, row.MediaType);
        var content = await renderings.GetOrRenderAsync(kind.ToString(), row.Sha256, async () => Render(kind, await ContentAsync(db, row)));
        return DashboardPages.Render<ArtifactPage>(new { RunId = id, Current = row, Versions = versions, Content = content });
    }

    public static async Task<IResult> RawAsync(string id, string name, string? iteration, HttpContext http, Database db)
    {
        var (_, row, problem) = await VersionAsync(db, id, SegmentName(name), iteration);
        if (problem is not null)
        {
            return problem;
        }
        var content = await ContentAsync(db, row!);
        DashboardPages.Secure(http);
        http.Response.Headers["X-Baton-Iteration"] = row!.Iteration.ToString(CultureInfo.InvariantCulture);
        return Results.File(content, row.MediaType, DownloadName(row.Name, row.Iteration));
    }

    public static async Task<IResult> CompareAsync(string id, string name, string? from, string? to, Database db)
    {
        name = SegmentName(name);
        var versions = await VersionsAsync(db, id, name);
        if (Missing(id, name, versions) is { } missing)
        {
            return missing;
        }
        var choice = ChooseComparison(from, to, versions!.Select(v => v.Iteration).ToList());
        if (choice.Problem is { } message)
        {
            return DashboardPages.Render<ArtifactProblemPage>(new { Heading = "Cannot compare these versions", Message = message, RunId = id, Name = name, Versions = versions }, 400);
        }
        var older = versions!.Single(v => v.Iteration == choice.From);
        var newer = versions!.Single(v => v.Iteration == choice.To);
        var (a, b) = (Text(await ContentAsync(db, older)), Text(await ContentAsync(db, newer)));
        var diff = a is null || b is null
            ? new LineDiffResult([], 0, 0, "binary content: download the two versions to compare them")
            : LineDiff.Compare(a, b);
        return DashboardPages.Render<ArtifactComparePage>(new { RunId = id, Name = name, Versions = versions, From = older, To = newer, Diff = diff });
    }

    /// <summary>Which two iterations to compare, or what is wrong with the request. Pure, so every case is tested.</summary>
    public static (int From, int To, string? Problem) ChooseComparison(string? from, string? to, IReadOnlyList<int> iterations)
    {
        var existing = string.Join(", ", iterations);
        string? Check(string? text, string which, out int? value)
        {
            value = null;
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                return $"'{text}' is not an iteration number: '{which}' must be one of {existing}.";
            }
            if (!iterations.Contains(v))
            {
                return $"There is no iteration {v} of this artifact: '{which}' must be one of {existing}.";
            }
            value = v;
            return null;
        }
        if (Check(to, "to", out var t) is { } toProblem)
        {
            return (0, 0, toProblem);
        }
        if (Check(from, "from", out var f) is { } fromProblem)
        {
            return (0, 0, fromProblem);
        }
        var newer = t ?? iterations.Max();
        var older = f ?? iterations.Where(i => i < newer).DefaultIfEmpty(-1).Max();
        if (older < 0)
        {
            return (0, 0, iterations.Count == 1
                ? $"There is only one version (iteration {newer}) of this artifact: nothing to compare it with."
                : $"Iteration {newer} is the first version: choose a later one for 'to' or an iteration for 'from' ({existing}).");
        }
        return older == newer
            ? (0, 0, $"'from' and 'to' are both iteration {newer}: choose two different versions ({existing}).")
            : (older, newer, null);
    }

    private static IResult? Missing(string id, string name, IReadOnlyList<ArtifactRow>? versions) =>
        versions is null ? DashboardPages.NotFound("Run not found", $"There is no run '{id}'.")
        : versions.Count == 0 ? DashboardPages.NotFound("Artifact not found", $"Run '{id}' has no artifact '{name}'.")
        : null;

    /// <summary>Every version, and the one asked for (no iteration: the latest) or a page saying what is wrong and which versions exist.</summary>
    private static async Task<(IReadOnlyList<ArtifactRow> Versions, ArtifactRow? Row, IResult? Problem)> VersionAsync(Database db, string id, string name, string? iteration)
    {
        var versions = await VersionsAsync(db, id, name);
        if (Missing(id, name, versions) is { } missing)
        {
            return ([], null, missing);
        }
        var (row, problem) = Choose(id, name, iteration, versions!);
        return (versions!, row, problem);
    }

    private static (ArtifactRow? Row, IResult? Problem) Choose(string id, string name, string? iteration, IReadOnlyList<ArtifactRow> versions)
    {
        if (string.IsNullOrWhiteSpace(iteration))
        {
            return (versions[^1], null);
        }
        // The page lists the versions that do exist, so the person can pick one.
        IResult Problem(string heading, string message, int status) =>
            DashboardPages.Render<ArtifactProblemPage>(new { Heading = heading, Message = message, RunId = id, Name = name, Versions = versions }, status);
        if (!int.TryParse(iteration, NumberStyles.None, CultureInfo.InvariantCulture, out var wanted))
        {
            return (null, Problem("Not an iteration", $"'{iteration}' is not an iteration number.", 400));
        }
        var row = versions.FirstOrDefault(v => v.Iteration == wanted);
        return row is not null
            ? (row, null)
            : (null, Problem("Artifact not found", $"Run '{id}' has no artifact '{name}' in iteration {wanted}.", 404));
    }

    /// <summary>Every version of the artifact, oldest first; null when the run does not exist.</summary>
    private static Task<IReadOnlyList<ArtifactRow>?> VersionsAsync(Database db, string id, string name) =>
        db.ReadAsync<IReadOnlyList<ArtifactRow>?>(async c =>
            !await Runs.RunStore.ExistsAsync(c, null, id)
                ? null
                : await ArtifactStore.VersionsAsync(c, null, id, name));

    private static Task<byte[]> ContentAsync(Database db, ArtifactRow row) =>
        db.ReadAsync(c => ArtifactStore.ContentAsync(c, null, row));

    /// <summary>
    /// Routing leaves an encoded slash (%2F) encoded in a route value, so a name with a slash arrives that way; the
    /// links encode every name with <see cref="Link"/>, so decoding it here gives the name back.
    /// </summary>
    private static string SegmentName(string name) => name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>A file name any browser and file system take: the artifact's name with anything odd replaced, and the iteration.</summary>
    public static string DownloadName(string name, int iteration)
    {
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray()).Trim('.');
        if (safe.Length == 0)
        {
            safe = "artifact";
        }
        // The iteration goes before an extension (letters and digits after the last dot), so the file still opens with its app.
        var dot = safe.LastIndexOf('.');
        var suffix = $"-iteration-{iteration}";
        return dot > 0 && dot < safe.Length - 1 && safe[(dot + 1)..].All(char.IsAsciiLetterOrDigit)
            ? safe[..dot] + suffix + safe[dot..]
            : safe + suffix;
    }

    // ---- rendering by kind ----

    /// <summary>
    /// Tables, task lists, footnotes and the like, but not UseAdvancedExtensions: its generic attributes
    /// (`# x {onclick=… #main}`), auto identifiers and custom containers would let an artifact put its own attributes,
    /// ids and classes on the page.
    /// </summary>
    private static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder()
        .UsePipeTables().UseGridTables().UseEmphasisExtras().UseTaskLists().UseAutoLinks().UseFootnotes()
        .UseDefinitionLists().UseAbbreviations().UseListExtras().UseAlertBlocks()
        .DisableHtml().Build();

    /// <summary>The text, or null when the bytes are not UTF-8 text (or hold NULs, which text artifacts never do).</summary>
    public static string? Text(byte[] content)
    {
        try
        {
            var text = new UTF8Encoding(false, true).GetString(content);
            return text.Contains('\0', StringComparison.Ordinal) ? null : text;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Which renderer an artifact gets, from its name and media type (a diff is also recognised by its text).</summary>
    public enum RenderKind
    {
        Markdown,
        Mermaid,
        Patch,
        Json,
        Text,
    }

    public static RenderKind KindOf(string name, string mediaType)
    {
        bool Is(string type, params string[] extensions) =>
            mediaType.StartsWith(type, StringComparison.OrdinalIgnoreCase) || extensions.Any(e => name.EndsWith(e, StringComparison.OrdinalIgnoreCase));
        return Is("text/markdown", ".md", ".markdown") ? RenderKind.Markdown
            : Is("text/vnd.mermaid", ".mmd", ".mermaid") ? RenderKind.Mermaid
            : Is("text/x-diff", ".patch", ".diff") || Is("text/x-patch") ? RenderKind.Patch
            : mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? RenderKind.Json
            : RenderKind.Text;
    }

    /// <summary>
    /// Markdown without raw HTML, with only safe link schemes and ```mermaid blocks drawn; JSON indented; diffs coloured;
    /// Mermaid drawn; other text as it is; binary content as a note. Every piece of the artifact is encoded.
    /// </summary>
    public static Markup Render(string name, string mediaType, byte[] content) => Render(KindOf(name, mediaType), content);

    public static Markup Render(RenderKind kind, byte[] content)
    {
        if (content.Length == 0)
        {
            return Html.Raw("""<p class="notice">This version is empty (0 bytes).</p>""");
        }
        if (Text(content) is not { } text)
        {
            return Html.Of($"""<p class="notice">Binary content ({content.Length} bytes): it is not shown here. Use the download link, or <code>baton run artifacts</code>.</p>""");
        }
        switch (kind)
        {
            case RenderKind.Markdown:
                return MarkdownHtml(text);
            case RenderKind.Mermaid:
                return FlowchartSvg.FromSource(text, "mmd-0");
            case RenderKind.Patch:
                return PatchHtml(text);
            case RenderKind.Json:
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    text = JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
                }
                catch (JsonException)
                {
                    // Not valid JSON after all: shown as it is.
                }
                return Html.Of($"""<pre>{text}</pre>""");
            default:
                return PatchLines.LooksLikeDiff(text) ? PatchHtml(text) : Html.Of($"""<pre>{text}</pre>""");
        }
    }

    /// <summary>The text as it is, with a short note saying why it is not drawn: what every renderer falls back to.</summary>
    public static Markup PlainText(string text, string why) =>
        Html.Of($"""<div class="render-fallback"><p class="muted small">{why}</p><pre>{text}</pre></div>""");

    /// <summary>
    /// Markdig has no time budget and cannot be cancelled, and some inputs cost it quadratic time (200 KB of `[a](` took
    /// 13 s). These caps keep every document to a fraction of a second; real documents are far inside them.
    /// </summary>
    public const int MaxMarkdownChars = 256 * 1024;

    /// <summary>Link openings (`](`): each unclosed one makes Markdig scan ahead for its end.</summary>
    public const int MaxLinkOpenings = 2_000;

    /// <summary>Block quotes, list items and brackets nested deeper than this are not a document anyone reads.</summary>
    public const int MaxNesting = 64;

    /// <summary>Why this text is not rendered as Markdown, or null when it is within every limit. One pass, no allocation.</summary>
    public static string? MarkdownOverLimit(string text)
    {
        if (text.Length > MaxMarkdownChars)
        {
            return $"Shown as plain text: larger than the {MaxMarkdownChars / 1024} KiB rendered here.";
        }
        int links = 0, brackets = 0, markers = 0, indent = 0;
        var atLineStart = true;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                (atLineStart, markers, indent) = (true, 0, 0);
                continue;
            }
            if (atLineStart)
            {
                // What nests blocks sits before a line's text: quote markers, list bullets, indentation.
                var bullet = c is '-' or '*' or '+' && i + 1 < text.Length && text[i + 1] == ' ';
                if (c == '>' || bullet)
                {
                    markers++;
                }
                else if (c is ' ' or '\t')
                {
                    indent += c == '\t' ? 4 : 1;
                }
                else
                {
                    atLineStart = false;
                }
                if (markers > MaxNesting || indent > MaxNesting * 4)
                {
                    return $"Shown as plain text: it nests more than {MaxNesting} levels deep.";
                }
            }
            if (c == '[' && ++brackets > MaxNesting)
            {
                return $"Shown as plain text: its brackets nest more than {MaxNesting} levels deep.";
            }
            if (c == ']')
            {
                brackets = Math.Max(0, brackets - 1);
                if (i + 1 < text.Length && text[i + 1] == '(' && ++links > MaxLinkOpenings)
                {
                    return $"Shown as plain text: it has more than {MaxLinkOpenings} links.";
                }
            }
        }
        return null;
    }

    /// <summary>Each line in its class; the +/- stay in the text, so colour is not the only signal.</summary>
    public static Markup PatchHtml(string patch) =>
        Html.Of($"""<pre class="patch">{PatchLines.Classify(patch).Select(l => Html.Of($"""<span class="{PatchLines.ClassOf(l.Kind)}">{l.Text}</span>{"\n"}"""))}</pre>""");

    private static Markup MarkdownHtml(string text)
    {
        if (MarkdownOverLimit(text) is { } why)
        {
            return PlainText(text, why);
        }
        try
        {
            return MarkdownWithinLimits(text);
        }
        catch (Exception e) when (e is ArgumentException or InsufficientExecutionStackException)
        {
            // Markdig's own depth limit (an ArgumentException) or the stack: a document nested beyond what the pre-scan sees.
            return PlainText(text, "Shown as plain text: it nests too deeply to render.");
        }
    }

    private static Markup MarkdownWithinLimits(string text)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var renderer = new HtmlRenderer(writer) { LinkRewriter = SafeUrl };
        Markdown.Setup(renderer);
        var codeBlocks = renderer.ObjectRenderers.FindExact<CodeBlockRenderer>();
        if (codeBlocks is not null)
        {
            renderer.ObjectRenderers.Replace<CodeBlockRenderer>(new MermaidBlockRenderer(codeBlocks));
        }
        renderer.Render(Markdig.Markdown.Parse(text, Markdown));
        writer.Flush();
        return Html.Raw($"""<div class="markdown">{writer}</div>""");
    }

    /// <summary>Draws ```mermaid blocks as diagrams (or their source with a note); every other code block as Markdig does.</summary>
    private sealed class MermaidBlockRenderer(CodeBlockRenderer fallback) : HtmlObjectRenderer<CodeBlock>
    {
        /// <summary>Each diagram's work is bounded; this bounds how many one document asks for.</summary>
        public const int MaxDiagrams = 10;

        private int _diagrams;

        protected override void Write(HtmlRenderer renderer, CodeBlock block)
        {
            if (block is FencedCodeBlock { Info: { } info } fenced && info.Trim().Equals("mermaid", StringComparison.OrdinalIgnoreCase))
            {
                var source = fenced.Lines.ToString();
                renderer.Write((++_diagrams <= MaxDiagrams
                    ? FlowchartSvg.FromSource(source, $"mmd-{_diagrams}")
                    : PlainText(source, $"Shown as source: only the first {MaxDiagrams} diagrams of a document are drawn.")).Value);
                return;
            }
            ((Markdig.Renderers.IMarkdownObjectRenderer)fallback).Write(renderer, block);
        }
    }

    public static string SafeUrl(string url)
    {
        var trimmed = url.Trim();
        if (trimmed.StartsWith('#') || trimmed.StartsWith('/') || trimmed.StartsWith("./", StringComparison.Ordinal) || trimmed.StartsWith("../", StringComparison.Ordinal))
        {
            return trimmed.StartsWith("//", StringComparison.Ordinal) ? "#" : trimmed;
        }
        if (Uri.TryCreate(trimmed, UriKind.Absolute, out var uri))
        {
            return uri.Scheme is "http" or "https" or "mailto" ? trimmed : "#";
        }
        // Relative without a scheme (a colon before any slash would be a scheme).
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        return colon < 0 || (slash >= 0 && slash < colon) ? trimmed : "#";
    }
}
