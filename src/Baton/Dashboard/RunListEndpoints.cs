using System.Globalization;
using Baton.Auth;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;


namespace Baton.Dashboard;

/// <summary>What the runs list was asked for, after checking: the filters it applies and what it had to ignore.</summary>
public sealed record RunListQuery(string? Status, string? Profile, string? Project, string? Search, int Limit, int Offset, IReadOnlyList<string> Notes)
{
    public const int DefaultLimit = Paging.DefaultLimit;
    public const int MaxSearchLength = 200;

    public bool Filtered => Status is not null || Profile is not null || Project is not null || Search is not null;

    /// <summary>Checks the query string's values; a bad one is dropped with a note saying so, never an error page.</summary>
    public static RunListQuery Parse(string? status, string? profile, string? project, string? q, string? limit, string? offset)
    {
        var notes = new List<string>();
        status = QueryText.Blank(status);
        if (status is not null && !StateNames.TryParse<RunStatus>(status, out _))
        {
            notes.Add($"There is no status '{QueryText.Shorten(status)}'; showing every status. The statuses are: {string.Join(", ", StateNames.All<RunStatus>())}.");
            status = null;
        }
        var search = QueryText.Blank(q)?.Trim();
        if (search is { Length: > MaxSearchLength })
        {
            notes.Add($"The search text is longer than {MaxSearchLength} characters, so it was ignored.");
            search = null;
        }
        var paging = Paging.Parse(limit, offset);
        notes.AddRange(paging.Notes);
        return new RunListQuery(status, Limited(QueryText.Blank(profile), "profile", notes), Limited(QueryText.Blank(project), "project", notes), search, paging.Limit, paging.Offset, notes);
    }

    /// <summary>This list's URL with another status and offset; the other filters stay.</summary>
    public string Link(string? status, int offset) => "/" + QueryString(status, Profile, Project, Search, Limit, offset);

    public string Link(int offset) => Link(Status, offset);

    private static string QueryString(string? status, string? profile, string? project, string? search, int limit, int offset)
    {
        var parts = new[]
        {
            status is null ? null : "status=" + Uri.EscapeDataString(status),
            profile is null ? null : "profile=" + Uri.EscapeDataString(profile),
            project is null ? null : "project=" + Uri.EscapeDataString(project),
            search is null ? null : "q=" + Uri.EscapeDataString(search),
            limit == DefaultLimit ? null : "limit=" + limit.ToString(CultureInfo.InvariantCulture),
            offset == 0 ? null : "offset=" + offset.ToString(CultureInfo.InvariantCulture),
        }.OfType<string>().ToList();
        return parts.Count == 0 ? "" : "?" + string.Join("&", parts);
    }

    // Profile and project names are at most 200 characters; anything longer matches nothing and only costs.
    private static string? Limited(string? value, string name, List<string> notes)
    {
        if (value is { Length: > 200 })
        {
            notes.Add($"The {name} filter is longer than 200 characters, so it was ignored.");
            return null;
        }
        return value;
    }

}

/// <summary>One row of the runs list, with the version its bulk checkbox posts.</summary>
public sealed record RunListRow(
    string RunId, string Profile, string? ProjectName, string Status, string? WaitingFor, string? CurrentPhase, int Iteration,
    decimal CostUsd, DateTimeOffset CreatedAt, long Version, bool CostUnknown = false);

/// <summary>
/// A page of the runs list: its rows, how many match in all, the matches per status (whatever the status filter), and
/// how far a text search looked back when it had to be bounded (null: it looked at every run).
/// </summary>
public sealed record RunListData(IReadOnlyList<RunListRow> Runs, long Total, IReadOnlyDictionary<string, long> Counts, int? SearchedNewest);

/// <summary>The runs list (<c>GET /</c>), its live stream (<c>GET /events</c>) and its bulk decisions (<c>POST /runs/bulk</c>).</summary>
public static class RunListEndpoints
{
    /// <summary>
    /// A text search looks through at most this many of the newest runs (under the profile and project filters). Its
    /// LIKE '%q%' cannot use an index, so without a bound a rare word would read every run at 100,000 runs; the page
    /// says when the bound applied. See docs/BENCHMARKS.md for the measurements behind the number.
    /// </summary>
    public const int SearchWindow = 10_000;

    public const int MaxBulkRuns = 200;

    private const string FlashCookie = "baton_flash";

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/", ListAsync);
        pages.MapGet("/events", (HttpContext http, Database db, EventFeed feed, TimeProvider time) =>
            EventStream.ForAllAsync(http, db, feed, time, EventStream.Style.RunsList));
        pages.MapPost("/runs/bulk", BulkAsync).RequireAuthorization(Roles.Operator);
    }

    public static async Task<IResult> ListAsync(HttpContext http, Database db)
    {
        // Read by hand rather than bound: a repeated parameter (?status=a&status=b) is then one more bad value with a
        // note, not a binding failure.
        string? Get(string name) => http.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null;
        var query = RunListQuery.Parse(Get("status"), Get("profile"), Get("project"), Get("q"), Get("limit"), Get("offset"));
        var data = await db.ReadAsync(c => RunStore.ListPageAsync(c, null, query, SearchWindow), http.RequestAborted);
        string? flash = null;
        if (http.Request.Cookies[FlashCookie] is { } cookie)
        {
            flash = Uri.UnescapeDataString(cookie);
            http.Response.Cookies.Delete(FlashCookie);
        }
        return DashboardPages.Render<Components.RunListPage>(new { Query = query, Data = data, Flash = flash });
    }

    // ---- bulk decisions ----

    public static async Task<IResult> BulkAsync(HttpContext http, IAntiforgery antiforgery, RunTransitions transitions, RunningExecutions running)
    {
        // Over the framework's form limits (1,024 values by default): far more runs than a bulk decision takes.
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery, () => DashboardPages.Render<Components.MessagePage>(new
        {
            Heading = "Nothing was done",
            Message = $"The form was too large to read: at most {MaxBulkRuns} runs can be changed at once.",
        }, 400));
        if (form is null)
        {
            return badForm!;
        }
        var parsed = BulkRequest.Parse(form["action"].ToString(), form["run"].Select(v => v ?? "").ToList());
        if (parsed.Error is { } error)
        {
            return DashboardPages.Render<Components.MessagePage>(new { Heading = "Nothing was done", Message = error }, 400);
        }
        var request = parsed.Request!;
        if (request.Action == BulkAction.Approve && !http.User.Has(Roles.Approver))
        {
            return DashboardPages.Forbidden(http);
        }
        var actor = http.User.Actor();
        var outcomes = new List<BulkOutcome>();
        foreach (var (id, version) in request.Runs)
        {
            RunTrigger trigger = request.Action == BulkAction.Cancel ? new CancelRun(actor, "cancelled from the runs list") : new ApproveRun(actor, null) { By = http.User.Decider() };
            var outcome = await transitions.ApplyAsync(id, trigger, version);
            outcomes.Add(BulkOutcome.Of(id, version, outcome));
        }
        if (request.Action == BulkAction.Cancel)
        {
            // As the run page's cancel does: the agents' processes are stopped, here all at once rather than one by one.
            await Task.WhenAll(outcomes.Where(o => o.Done).Select(o => running.StopAsync(o.RunId, TimeSpan.FromSeconds(10))));
        }
        http.Response.Cookies.Append(FlashCookie, Uri.EscapeDataString(BulkOutcome.Summary(request.Action, outcomes)), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            IsEssential = true,
            MaxAge = TimeSpan.FromMinutes(5),
        });
        return Results.Redirect(ReturnUrl(form["return"].ToString()));
    }

    /// <summary>Back to the list the person was on (its query string only), never to another site.</summary>
    public static string ReturnUrl(string? url) =>
        DashboardForms.LocalUrl(url) is { } local && (local == "/" || local.StartsWith("/?", StringComparison.Ordinal)) ? local : "/";
}

public enum BulkAction
{
    Cancel,
    Approve,
}

/// <summary>A bulk form's action and its runs, each with the version the person saw (as <c>run_x:version</c>).</summary>
public sealed record BulkRequest(BulkAction Action, IReadOnlyList<(string RunId, long Version)> Runs)
{
    public static (BulkRequest? Request, string? Error) Parse(string action, IReadOnlyList<string> runs)
    {
        BulkAction? chosen = action switch
        {
            "cancel" => BulkAction.Cancel,
            "approve" => BulkAction.Approve,
            _ => null,
        };
        if (chosen is null)
        {
            return (null, action.Length == 0 ? "The form did not say what to do: press Cancel selected or Approve selected." : "Unknown action: the list can cancel or approve the selected runs.");
        }
        var picked = runs.Where(r => r.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (picked.Count == 0)
        {
            return (null, "No runs were selected: tick the runs first, then choose what to do with them.");
        }
        if (picked.Count > RunListEndpoints.MaxBulkRuns)
        {
            return (null, $"{picked.Count} runs were selected; at most {RunListEndpoints.MaxBulkRuns} can be changed at once.");
        }
        var parsed = new List<(string, long)>();
        foreach (var value in picked)
        {
            var colon = value.LastIndexOf(':');
            if (colon <= 0 || value.Length > 200 || !long.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                return (null, "The form did not say which version of each run it was made on; reload the list and try again.");
            }
            parsed.Add((value[..colon], version));
        }
        return (new BulkRequest(chosen.Value, parsed), null);
    }
}

/// <summary>What happened to one run of a bulk decision: done, or skipped with the reason.</summary>
public sealed record BulkOutcome(string RunId, bool Done, string? Skipped)
{
    private const int NamedSkips = 10;

    public static BulkOutcome Of(string id, long version, TransitionOutcome outcome) => outcome switch
    {
        { Decision: Transition } => new(id, true, null),
        { Run: null } => new(id, false, $"{id} does not exist"),
        { Run: { } run } when run.Version != version => new(id, false, $"{id} changed since the list was loaded (it is now {Words(run.Status)})"),
        { Decision: Invalid invalid } => new(id, false, $"{id}: {invalid.Message}"),
        { Run: { } run } => new(id, false, $"{id} is {Words(run.Status)}"),
    };

    /// <summary>"2 cancelled; 1 skipped: run_y is completed" — the first ten reasons, then how many more.</summary>
    public static string Summary(BulkAction action, IReadOnlyList<BulkOutcome> outcomes)
    {
        var verb = action == BulkAction.Cancel ? "cancelled" : "approved";
        var done = outcomes.Count(o => o.Done);
        var skipped = outcomes.Where(o => !o.Done).ToList();
        var text = done == 0 ? $"None {verb}" : $"{done} {verb}";
        if (skipped.Count > 0)
        {
            text += $"; {skipped.Count} skipped: " + string.Join(", ", skipped.Take(NamedSkips).Select(o => o.Skipped))
                + (skipped.Count > NamedSkips ? $" and {skipped.Count - NamedSkips} more" : "");
        }
        // It travels in a cookie to the list after the redirect: kept well under a cookie's 4 KB.
        return text.Length <= 1000 ? text + "." : text[..999] + "…";
    }

    private static string Words(string status) => status.Replace('_', ' ');
}
