using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using Baton.Auth;
using Baton.Dashboard.Components;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>The dashboard: server-rendered HTML pages that work without JavaScript. Forms post back and redirect.</summary>
public static class DashboardApi
{
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var open = app.MapGroup("").ExcludeFromDescription().AllowAnonymous();
        open.MapGet("/signin", SignInPage);
        open.MapPost("/signin", SignInAsync);
        open.MapGet("/signin/link", SignInLinkPage);
        open.MapPost("/signin/link/preview", SignInLinkPreviewAsync);
        open.MapPost("/signin/link", SignInWithLinkAsync);
        open.MapPost("/signout", SignOutAsync);
        open.MapPost("/theme", ThemeAsync);
        open.MapGet("/dashboard/{file}", Asset);

        var pages = app.MapGroup("").ExcludeFromDescription().RequireAuthorization(Roles.Viewer);
        RunListEndpoints.Map(pages);
        NewRun.Map(pages);
        ArtifactPages.Map(pages);
        pages.MapGet("/runs/{id}/events", (string id, HttpContext http, Database db, EventFeed feed, TimeProvider time) =>
            EventStream.ForRunAsync(id, http, db, feed, time, EventStream.Style.RunPage));
        pages.MapGet("/executions/{id}/events", (string id, HttpContext http, Database db, EventFeed feed, TimeProvider time) =>
            EventStream.ForExecutionAsync(id, http, db, feed, time, EventStream.Style.RunPage));
        RunDetailPages.Map(pages);
        ToolApprovalPages.Map(pages);
        AgentPages.Map(pages);
        ProfilePages.Map(pages);
        KeyPages.Map(pages);
        pages.MapGet("/inbox", async (HttpContext http, Database db, RunTransitions transitions, TimeProvider time) =>
            DashboardPages.Render<Components.InboxPage>(new { Inbox = await GateInbox.ForAsync(db, transitions, http.User.Decider(), time.GetUtcNow(), http.RequestAborted) }));
        // The top bar's count, read again by site.js when a page's event stream says something changed.
        pages.MapGet("/inbox/count", async (HttpContext http, Database db, RunTransitions transitions, TimeProvider time) =>
            Results.Text((await GateInbox.ForAsync(db, transitions, http.User.Decider(), time.GetUtcNow(), http.RequestAborted)).Total.ToString(CultureInfo.InvariantCulture)));
        return app;
    }

    private static IResult SignInPage(string? @return) => DashboardPages.Render<SignInPage>(new { ReturnUrl = DashboardForms.LocalUrl(@return) });

    private static async Task<IResult> SignInAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var token = form["api_key"].ToString().Trim();
        var returnUrl = DashboardForms.LocalUrl(form["return"].ToString());
        var key = token.Length is 0 or > 512 ? null : await db.ReadAsync(c => ApiKeys.FindActiveAsync(c, token, time.GetUtcNow()));
        if (key is null)
        {
            var error = token.Length == 0 ? "Enter an API key." : "That key is unknown, revoked or expired.";
            return DashboardPages.Render<SignInPage>(new { ReturnUrl = returnUrl, Error = error }, 400);
        }
        await DashboardAuth.SignInAsync(http, key);
        return Results.Redirect(returnUrl ?? "/", permanent: false, preserveMethod: false);
    }

    /// <summary>The page a link opens. Its code is in the fragment, never in the request: the page's script posts it.</summary>
    private static IResult SignInLinkPage() => DashboardPages.Render<SignInLinkPage>(new { });

    /// <summary>Whom a link's code signs in as, without spending it.</summary>
    private static async Task<IResult> SignInLinkPreviewAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var code = form["code"].ToString().Trim();
        var key = IsCode(code) ? await SignInLinks.PeekAsync(db, code, time.GetUtcNow()) : null;
        return key is null
            ? DashboardPages.Render<SignInLinkPage>(new { Unusable = true }, 404)
            : DashboardPages.Render<SignInLinkPage>(new { Code = code, Key = key });
    }

    private static async Task<IResult> SignInWithLinkAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var code = form["code"].ToString();
        var key = IsCode(code) ? await SignInLinks.RedeemAsync(db, code, time.GetUtcNow()) : null;
        if (key is null)
        {
            return DashboardPages.Render<SignInLinkPage>(new { Unusable = true }, 404);
        }
        await DashboardAuth.SignInAsync(http, key);
        return Results.Redirect("/");
    }

    private static bool IsCode(string? code) => code is { Length: > 0 and <= 128 };

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        await DashboardAuth.SignOutAsync(http);
        return Results.Redirect("/signin");
    }

    /// <summary>Remembers a chosen theme for a year; site.js does the same without a reload.</summary>
    private static async Task<IResult> ThemeAsync(HttpContext http, IAntiforgery antiforgery)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var theme = form["theme"].ToString();
        if (theme is not ("dark" or "light" or "auto"))
        {
            return DashboardPages.Render<MessagePage>(new { Heading = "Unknown theme", Message = $"'{theme}' is not a theme: choose dark, light or auto." }, 400);
        }
        http.Response.Cookies.Append(DashboardPages.ThemeCookie, theme, new CookieOptions
        {
            HttpOnly = false,
            SameSite = SameSiteMode.Lax,
            MaxAge = TimeSpan.FromDays(365),
            IsEssential = true,
            Secure = http.Request.IsHttps,
        });
        return Results.Redirect(DashboardForms.LocalUrl(form["return"].ToString()) ?? "/");
    }

    private static readonly Dictionary<string, (string Resource, string Type)> Assets = new()
    {
        ["site.css"] = ("dashboard/site.css", "text/css; charset=utf-8"),
        ["live.js"] = ("dashboard/live.js", "text/javascript; charset=utf-8"),
        ["site.js"] = ("dashboard/site.js", "text/javascript; charset=utf-8"),
        ["logs.js"] = ("dashboard/logs.js", "text/javascript; charset=utf-8"),
        ["runs.js"] = ("dashboard/runs.js", "text/javascript; charset=utf-8"),
        ["inbox.js"] = ("dashboard/inbox.js", "text/javascript; charset=utf-8"),
    };

    /// <summary>Each asset's bytes and ETag (a hash of the bytes), read from the assembly once, when first asked for.</summary>
    private static readonly Dictionary<string, Lazy<(byte[] Bytes, Microsoft.Net.Http.Headers.EntityTagHeaderValue ETag)>> Loaded =
        Assets.ToDictionary(a => a.Key, a => new Lazy<(byte[], Microsoft.Net.Http.Headers.EntityTagHeaderValue)>(() => Load(a.Value.Resource)));

    private static (byte[] Bytes, Microsoft.Net.Http.Headers.EntityTagHeaderValue ETag) Load(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        return (bytes, new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\""));
    }

    /// <summary>
    /// An asset with its ETag and "no-cache": the browser keeps it but asks each time, a 304 while it is unchanged
    /// (Results.File answers If-None-Match), so a new version after an upgrade is used at once.
    /// </summary>
    private static IResult Asset(string file, HttpContext http)
    {
        if (!Assets.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }
        var (bytes, etag) = Loaded[file].Value;
        http.Response.Headers.CacheControl = "no-cache";
        return Results.File(bytes, asset.Type, entityTag: etag);
    }
}
