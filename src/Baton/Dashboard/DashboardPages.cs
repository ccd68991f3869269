using System.Globalization;
using System.Security.Claims;
using Baton.Auth;
using Baton.Dashboard.Components;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>What a page's forms showed when they come back with a problem: the message and the input to keep.</summary>
public sealed record FormState(string Action, string Message, IReadOnlyDictionary<string, string> Values)
{
    public string Value(string action, string field) => Action == action && Values.TryGetValue(field, out var v) ? v : "";
}

/// <summary>The page shell and the small pieces every page uses.</summary>
public static class DashboardPages
{
    /// <summary>A Razor page as the response, with the dashboard's security headers.</summary>
    public static IResult Render<TPage>(object? parameters = null, int status = 200) where TPage : IComponent =>
        new SecuredResult(new RazorComponentResult<TPage>(parameters ?? new { }) { StatusCode = status });

    public static IResult NotFound(string heading, string message) =>
        Render<MessagePage>(new { Heading = heading, Message = message }, 404);

    /// <summary>A run's page, or a page under it (<paramref name="suffix"/> like "/logs.txt" or "?tab=logs").</summary>
    public static string RunUrl(string runId, string? suffix = null) => $"/runs/{Uri.EscapeDataString(runId)}{suffix}";

    public const string ThemeCookie = "baton_theme";

    /// <summary>"dark" or "light" when the person chose one, else "auto" (the system's preference, in CSS).</summary>
    public static string Theme(HttpContext http) => http.Request.Cookies[ThemeCookie] switch
    {
        "dark" => "dark",
        "light" => "light",
        _ => "auto",
    };

    public static string Exact(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>"just now", "5 min ago", "in 3 h", or the date for anything more than a month away.</summary>
    public static string Relative(DateTimeOffset at, DateTimeOffset now)
    {
        var span = now - at;
        var ago = span >= TimeSpan.Zero;
        var d = ago ? span : -span;
        string amount = d.TotalSeconds < 45 ? ""
            : d.TotalMinutes < 60 ? $"{Math.Max(1, (int)Math.Round(d.TotalMinutes))} min"
            : d.TotalHours < 24 ? $"{(int)d.TotalHours} h"
            : d.TotalDays < 31 ? $"{(int)d.TotalDays} d"
            : "-";
        return amount switch
        {
            "" => "just now",
            "-" => at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            _ => ago ? amount + " ago" : "in " + amount,
        };
    }

    /// <summary>Our pages load only our own stylesheet and script, so injected markup could not run anything anyway.</summary>
    public static void Secure(HttpContext http)
    {
        http.Response.Headers.ContentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers["Referrer-Policy"] = "same-origin";
    }

    public static IResult Forbidden(HttpContext http) => Render<MessagePage>(new
    {
        Heading = "Not allowed",
        Message = $"Your key ({http.User.Identity?.Name}, role {http.User.FindFirstValue(ClaimTypes.Role)}) may not do this. Sign in with a key that has the needed role.",
    }, 403);

    public static IResult BadForm() => Render<MessagePage>(new
    {
        Heading = "Form expired",
        Message = "This form was missing its security token or it has expired. Go back, reload the page and try again.",
    }, 400);

    public static string Cost(decimal usd) => "$" + usd.ToString("0.00##", CultureInfo.InvariantCulture);

    /// <summary>A cost of which some part is unknown (ADR 28): the known part and "unknown", never a bare $0.</summary>
    public static string Cost(decimal knownUsd, bool unknown) =>
        !unknown ? Cost(knownUsd) : knownUsd == 0 ? "unknown" : Cost(knownUsd) + " + unknown";

    public static string Duration(TimeSpan d) =>
        d.TotalDays >= 1 ? $"{(int)d.TotalDays}d {d.Hours}h"
        : d.TotalHours >= 1 ? $"{(int)d.TotalHours}h {d.Minutes}m"
        : d.TotalMinutes >= 1 ? $"{(int)d.TotalMinutes}m {d.Seconds}s"
        : $"{d.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)}s";

    public static bool May(this ClaimsPrincipal user, string role) => user.Identity?.IsAuthenticated == true && user.Has(role);

    private sealed class SecuredResult(IResult page) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            Secure(http);
            return page.ExecuteAsync(http);
        }
    }
}
