using System.Reflection;
using Baton.Auth;
using Baton.Dashboard.Components;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;

namespace Baton.Dashboard;

/// <summary>The dashboard: server-rendered HTML pages that work without JavaScript. Forms post back and redirect.</summary>
public static class DashboardApi
{
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var open = app.MapGroup("").ExcludeFromDescription().AllowAnonymous();
        open.MapGet("/signin", SignInPage);
        open.MapPost("/signin", SignInAsync);
        open.MapGet("/signin/link", SignInLinkPageAsync);
        open.MapPost("/signin/link", SignInWithLinkAsync);
        open.MapPost("/signout", SignOutAsync);
        open.MapPost("/theme", ThemeAsync);
        open.MapGet("/dashboard/{file}", Asset);

        var pages = app.MapGroup("").ExcludeFromDescription().RequireAuthorization(Roles.Viewer);
        RunListEndpoints.Map(pages);
        NewRun.Map(pages);
        ArtifactPages.Map(pages);
        pages.MapGet("/runs/{id}/events", (string id, HttpContext http, Database db, EngineSignals signals, TimeProvider time) =>
            EventStream.ForRunAsync(id, http, db, signals, time));
        RunDetailPages.Map(pages);
        AgentPages.Map(pages);
        ProfilePages.Map(pages);
        KeyPages.Map(pages);
        return app;
    }

    private static IResult SignInPage(string? @return) => DashboardPages.Render<SignInPage>(new { ReturnUrl = LocalUrl(@return) });

    private static async Task<IResult> SignInAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return BadForm(http);
        }
        var form = await http.Request.ReadFormAsync();
        var token = form["api_key"].ToString().Trim();
        var returnUrl = LocalUrl(form["return"].ToString());
        var key = token.Length is 0 or > 512 ? null : await db.ReadAsync(c => ApiKeys.FindActiveAsync(c, token, time.GetUtcNow()));
        if (key is null)
        {
            var error = token.Length == 0 ? "Enter an API key." : "That key is unknown, revoked or expired.";
            return DashboardPages.Render<SignInPage>(new { ReturnUrl = returnUrl, Error = error }, 400);
        }
        await http.SignInAsync(DashboardAuth.CookieScheme, DashboardAuth.Principal(key));
        return Results.Redirect(returnUrl ?? "/", permanent: false, preserveMethod: false);
    }

    private static async Task<IResult> SignInLinkPageAsync(string? code, Database db, TimeProvider time)
    {
        var key = IsCode(code) ? await SignInLinks.PeekAsync(db, code!, time.GetUtcNow()) : null;
        return DashboardPages.Render<SignInLinkPage>(new { Code = code, Key = key }, key is null ? 404 : 200);
    }

    private static async Task<IResult> SignInWithLinkAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return BadForm(http);
        }
        var code = (await http.Request.ReadFormAsync())["code"].ToString();
        var key = IsCode(code) ? await SignInLinks.RedeemAsync(db, code, time.GetUtcNow()) : null;
        if (key is null)
        {
            return DashboardPages.Render<SignInLinkPage>(new { Code = code }, 404);
        }
        await http.SignInAsync(DashboardAuth.CookieScheme, DashboardAuth.Principal(key));
        return Results.Redirect("/");
    }

    private static bool IsCode(string? code) => code is { Length: > 0 and <= 128 };

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return BadForm(http);
        }
        await http.SignOutAsync(DashboardAuth.CookieScheme);
        return Results.Redirect("/signin");
    }

    public static IResult BadForm(HttpContext http) => DashboardPages.BadForm();

    /// <summary>Remembers a chosen theme for a year; site.js does the same without a reload.</summary>
    private static async Task<IResult> ThemeAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return DashboardPages.BadForm();
        }
        var form = await http.Request.ReadFormAsync();
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
        });
        return Results.Redirect(LocalUrl(form["return"].ToString()) ?? "/");
    }

    /// <summary>Only a path on this site, so the sign-in form cannot send people elsewhere.</summary>
    private static string? LocalUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            ? url : null;

    private static readonly Dictionary<string, (string Resource, string Type)> Assets = new()
    {
        ["site.css"] = ("dashboard/site.css", "text/css; charset=utf-8"),
        ["live.js"] = ("dashboard/live.js", "text/javascript; charset=utf-8"),
        ["site.js"] = ("dashboard/site.js", "text/javascript; charset=utf-8"),
        ["logs.js"] = ("dashboard/logs.js", "text/javascript; charset=utf-8"),
        ["runs.js"] = ("dashboard/runs.js", "text/javascript; charset=utf-8"),
    };

    private static IResult Asset(string file)
    {
        if (!Assets.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(asset.Resource)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Results.File(copy.ToArray(), asset.Type);
    }
}
