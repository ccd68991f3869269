using Baton.Client;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>Create a run from the browser: the same validation and creation as POST /api/runs.</summary>
public static class NewRunPage
{
    public static IResult Show(HttpContext http, ProfileCatalog catalog, string? profile) =>
        DashboardPages.Page(Render(http, catalog, new Dictionary<string, string> { ["profile"] = profile ?? "" }, null));

    public static async Task<IResult> CreateAsync(HttpContext http, IAntiforgery antiforgery, Database db, ProfileCatalog catalog, RunTransitions transitions, TimeProvider time)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return DashboardApi.BadForm(http);
        }
        var form = await http.Request.ReadFormAsync();
        var values = form.ToDictionary(f => f.Key, f => f.Value.ToString());
        string? Field(string name) => string.IsNullOrWhiteSpace(values.GetValueOrDefault(name)) ? null : values[name];
        var request = new CreateRunRequest(Field("profile"), Field("intake"), Field("project_name")?.Trim(), Field("mode"));
        var created = await RunsApi.CreateAsync(request, null, http.User, db, catalog, transitions, time);
        IReadOnlyDictionary<string, string[]> errors = created.Result switch
        {
            Created<RunDetail> => new Dictionary<string, string[]>(),
            ValidationProblem invalid => invalid.ProblemDetails.Errors.ToDictionary(),
            ProblemHttpResult problem => new Dictionary<string, string[]> { ["form"] = [problem.ProblemDetails.Detail ?? problem.ProblemDetails.Title ?? "The run could not be created."] },
            _ => new Dictionary<string, string[]> { ["form"] = ["The run could not be created."] },
        };
        if (created.Result is Created<RunDetail> { Value: { } run })
        {
            return Results.Redirect($"/runs/{Html.Url(run.RunId)}");
        }
        return DashboardPages.Page(Render(http, catalog, values, errors), 400);
    }

    private static Markup Render(HttpContext http, ProfileCatalog catalog, IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, string[]>? errors)
    {
        string Value(string name) => values.GetValueOrDefault(name) ?? "";
        Markup Error(string field) => errors is not null && errors.TryGetValue(field, out var messages)
            ? Html.Of($"""<p class="field-error" id="{field}-error">{string.Join(" ", messages)}</p>""")
            : Markup.Empty;
        Markup Invalid(string field) => errors is not null && errors.ContainsKey(field)
            ? Html.Of($"""aria-invalid="true" aria-describedby="{field}-error" """)
            : Markup.Empty;
        var profiles = catalog.Current().Profiles.Select(p => Html.Of($"""
            <option value="{p.Profile.Name}" {Html.When(p.Profile.Name == Value("profile"), Html.Raw("selected"))}>{p.Profile.Name} ({p.Profile.Phases.Count} phases, {p.Profile.Mode.Wire()})</option>
            """));
        var modes = new[] { ("", "the profile's"), ("auto", "auto"), ("manual", "manual") }.Select(m => Html.Of($"""
            <option value="{m.Item1}" {Html.When(m.Item1 == Value("mode"), Html.Raw("selected"))}>{m.Item2}</option>
            """));
        return DashboardPages.Layout(http, "New run", Html.Of($"""
            <p class="crumbs"><a href="/">Runs</a> / new</p>
            <h1>New run</h1>
            {Html.When(errors is not null, Html.Raw("""<p class="notice error" role="alert">The run was not created: see below.</p>"""))}
            {Error("form")}
            <form method="post" action="/runs/new" class="new-run">
              {DashboardPages.Csrf(http)}
              <label for="profile">Profile</label>
              <select id="profile" name="profile" required {Invalid("profile")}><option value="">choose a profile</option>{profiles}</select>
              {Error("profile")}
              <label for="project_name">Project (optional)</label>
              <input id="project_name" name="project_name" maxlength="200" value="{Value("project_name")}" {Invalid("project_name")}>
              {Error("project_name")}
              <label for="mode">Mode</label>
              <select id="mode" name="mode">{modes}</select>
              {Error("mode")}
              <label for="intake">Intake: the PRD, mission or ticket (Markdown)</label>
              <textarea id="intake" name="intake" rows="14" required {Invalid("intake")}>{Value("intake")}</textarea>
              {Error("intake")}
              <button type="submit">Create run</button>
            </form>
            """));
    }
}
