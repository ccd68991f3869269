using System.Globalization;
using Baton.Auth;
using Baton.Runs;
using Baton.Storage;
using Dapper;

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

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
