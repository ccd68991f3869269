using System.Globalization;
using System.Text;
using System.Text.Json;
using Baton.Auth;
using Baton.Runs;
using Baton.Storage;
using Dapper;
using Markdig;
using Markdig.Renderers;

namespace Baton.Dashboard;

/// <summary>The runs list and an artifact's page (a run's page is <see cref="RunDetailPages"/>).</summary>
public static class RunPages
{
    private const string CreateExample = """{"profile": "...", "intake": "..."}""";

    // ---- runs list ----

    public static async Task<IResult> ListAsync(HttpContext http, Database db, string? status, string? profile, string? project, string? limit, string? offset)
    {
        status = Blank(status);
        profile = Blank(profile);
        project = Blank(project);
        string? problem = null;
        if (status is not null && !StateNames.TryParse<RunStatus>(status, out _))
        {
            problem = $"Unknown status '{status}'; showing every status.";
            status = null;
        }
        var take = Math.Clamp(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 50, 1, 200);
        var skip = Math.Max(0, int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : 0);
        var (list, counts) = await db.ReadAsync(async c =>
        {
            var runs = await RunReads.ListAsync(c, new RunReads.ListQuery(status, profile, project, take, skip));
            var byStatus = (await c.QueryAsync<(string Status, long Count)>(
                "SELECT status, COALESCE(SUM(count), 0) FROM run_counts WHERE (@profile IS NULL OR profile = @profile) AND (@project IS NULL OR project_name = @project) GROUP BY status",
                new { profile, project })).Where(x => x.Count > 0).ToDictionary(x => x.Status, x => x.Count);
            return (runs, byStatus);
        });

        string Link(string? s, int at) => "/?" + string.Join("&", new[]
        {
            s is null ? null : "status=" + Html.Url(s),
            profile is null ? null : "profile=" + Html.Url(profile),
            project is null ? null : "project=" + Html.Url(project),
            take == 50 ? null : "limit=" + take.ToString(CultureInfo.InvariantCulture),
            at == 0 ? null : "offset=" + at.ToString(CultureInfo.InvariantCulture),
        }.OfType<string>());

        var countLinks = StateNames.All<RunStatus>().Where(counts.ContainsKey).Select(s => Html.Of($"""
            <li><a href="{Link(s, 0)}" {Html.When(s == status, Html.Raw("aria-current=\"true\""))}>{DashboardPages.Status(s)} <b>{counts[s]}</b></a></li>
            """));
        var options = StateNames.All<RunStatus>().Select(s => Html.Of($"""<option value="{s}" {Html.When(s == status, Html.Raw("selected"))}>{s.Replace('_', ' ')}</option>"""));
        var rows = list.Runs.Select(r => Html.Of($"""
            <tr>
              <td><a href="/runs/{Html.Url(r.RunId)}"><code>{r.RunId}</code></a></td>
              <td>{r.Profile}</td>
              <td>{r.ProjectName ?? ""}</td>
              <td>{DashboardPages.Status(r.Status)}{Html.When(r.WaitingFor is not null, Html.Of($""" <span class="muted">({r.WaitingFor})</span>"""))}</td>
              <td>{r.CurrentPhase ?? "—"}</td>
              <td class="num">{r.Iteration}</td>
              <td class="num">{DashboardPages.Cost(r.CostUsd)}</td>
              <td>{DashboardPages.Time(r.CreatedAt)}</td>
            </tr>
            """));
        var filtered = status is not null || profile is not null || project is not null;
        var table = list.Runs.Count == 0
            ? filtered
                ? Html.Of($"""<p class="empty">No runs match these filters. <a href="/">Show all runs</a>.</p>""")
                : Html.Of($"""
                    <div class="empty">
                      <p><strong>No runs yet.</strong> Create one {(http.User.May(Roles.Operator) ? Html.Raw("""with <a href="/runs/new">New run</a> or """) : Markup.Empty)}from a terminal:</p>
                      <pre><code>baton run create --profile software_delivery --intake-file prd.md</code></pre>
                      <p>or with the API: <code>POST /api/runs</code> with <code>{CreateExample}</code>. <code>baton profile list</code> shows the profiles.</p>
                    </div>
                    """)
            : Html.Of($"""
                <table class="runs">
                  <caption class="visually-hidden">Runs, newest first</caption>
                  <thead><tr><th scope="col">Run</th><th scope="col">Profile</th><th scope="col">Project</th><th scope="col">Status</th><th scope="col">Phase</th><th scope="col" class="num">Iteration</th><th scope="col" class="num">Cost</th><th scope="col">Created (UTC)</th></tr></thead>
                  <tbody>
                {rows}
                  </tbody>
                </table>
                """);
        var pager = list.Total <= take && skip == 0 ? Markup.Empty : Html.Of($"""
            <nav class="pager" aria-label="Pages">
              <span>{(list.Runs.Count == 0 ? 0 : skip + 1)}–{skip + list.Runs.Count} of {list.Total}</span>
              {Html.When(skip > 0, Html.Of($"""<a href="{Link(status, Math.Max(0, skip - take))}" rel="prev">← Newer</a>"""))}
              {Html.When(skip + take < list.Total, Html.Of($"""<a href="{Link(status, skip + take)}" rel="next">Older →</a>"""))}
            </nav>
            """);
        return DashboardPages.Page(DashboardPages.Layout(http, "Runs", Html.Of($"""
            <div class="title-row"><h1>Runs</h1>{Html.When(http.User.May(Roles.Operator), Html.Raw("""<a class="button" href="/runs/new">New run</a>"""))}</div>
            {Html.When(problem is not null, Html.Of($"""<p class="notice error" role="alert">{problem}</p>"""))}
            <ul class="counts" aria-label="Runs per status">{countLinks}</ul>
            <form method="get" action="/" class="filters" role="search">
              <label>Status <select name="status"><option value="">any</option>{options}</select></label>
              <label>Profile <input name="profile" value="{profile ?? ""}"></label>
              <label>Project <input name="project" value="{project ?? ""}"></label>
              <button type="submit">Filter</button>
              {Html.When(filtered, Html.Raw("""<a href="/">Clear</a>"""))}
            </form>
            {table}
            {pager}
            """)));
    }

    // ---- artifacts ----

    private static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().DisableHtml().Build();

    public static async Task<IResult> ArtifactAsync(string id, string name, string? iteration, HttpContext http, Database db)
    {
        int? wanted = int.TryParse(iteration, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;
        var found = await db.ReadAsync<(Artifacts.ArtifactRow Row, byte[] Content)?>(async c =>
        {
            var row = await c.QuerySingleOrDefaultAsync<Artifacts.ArtifactRow>(
                wanted is null
                    ? "SELECT * FROM artifacts WHERE run_id = @id AND name = @name ORDER BY iteration DESC LIMIT 1"
                    : "SELECT * FROM artifacts WHERE run_id = @id AND name = @name AND iteration = @wanted",
                new { id, name, wanted });
            return row is null ? null : (row, await c.QuerySingleAsync<byte[]>("SELECT content FROM blobs WHERE sha256 = @Sha256", row));
        });
        if (found is not { } hit)
        {
            return DashboardPages.NotFound("Artifact not found", $"Run '{id}' has no artifact '{name}'{(wanted is null ? "" : $" in iteration {wanted}")}.");
        }
        var (artifact, content) = hit;
        return DashboardPages.Page(DashboardPages.Layout(http, name, Html.Of($"""
            <p class="crumbs"><a href="/">Runs</a> / <a href="/runs/{Html.Url(id)}"><code>{id}</code></a> / {name}</p>
            <h1>{name}</h1>
            <p class="muted">{artifact.Phase} · iteration {artifact.Iteration} · {artifact.MediaType} · {artifact.Size} bytes · sha256 <code>{artifact.Sha256[..12]}</code></p>
            <article class="artifact">{Render(artifact.Name, artifact.MediaType, content)}</article>
            """)));
    }

    /// <summary>Markdown without raw HTML and with only safe link schemes; JSON indented; other text as it is.</summary>
    public static Markup Render(string name, string mediaType, byte[] content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            return Html.Of($"""<p class="muted">Binary content ({content.Length} bytes); fetch it with <code>baton run artifacts</code>.</p>""");
        }
        if (mediaType.StartsWith("text/markdown", StringComparison.Ordinal) || name.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
        {
            using var writer = new StringWriter(CultureInfo.InvariantCulture);
            var renderer = new HtmlRenderer(writer) { LinkRewriter = SafeUrl };
            Markdown.Setup(renderer);
            renderer.Render(Markdig.Markdown.Parse(text, Markdown));
            writer.Flush();
            return Html.Raw($"""<div class="markdown">{writer}</div>""");
        }
        if (mediaType.Contains("json", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                text = JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
            }
            catch (JsonException)
            {
                // Not valid JSON after all: shown as it is.
            }
        }
        return Html.Of($"""<pre>{text}</pre>""");
    }

    private static string SafeUrl(string url)
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

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
