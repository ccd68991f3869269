using System.Text;
using Baton.Dashboard.Components;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>Reading a dashboard form and a return address, so a bad request is a page and never a 500.</summary>
public static class DashboardForms
{
    /// <summary>
    /// The posted form, or the page to answer with: "too large" when the body breaks the framework's form limits
    /// (more than 1,024 fields, a value over the length limit, a body over the size limit), "Form expired" when the
    /// antiforgery token is missing or wrong. The form is read before the token is checked because the check reads it
    /// too, and there an over-limit form is an exception, a 500.
    /// </summary>
    public static async Task<(IFormCollection? Form, IResult? Problem)> ReadAsync(HttpContext http, IAntiforgery antiforgery, Func<IResult>? tooLarge = null)
    {
        if (!http.Request.HasFormContentType)
        {
            return (null, DashboardPages.BadForm());
        }
        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException)
        {
            return (null, tooLarge?.Invoke() ?? TooLarge());
        }
        return await antiforgery.IsRequestValidAsync(http) ? (form, null) : (null, DashboardPages.BadForm());
    }

    private static IResult TooLarge() => DashboardPages.Render<MessagePage>(new
    {
        Heading = "The form was too large",
        Message = "The form had more fields or longer values than the dashboard reads, so nothing was done. Go back, reload the page and try again.",
    }, 400);

    /// <summary>
    /// A path on this site, ready for a Location header, or null. As ASP.NET's IsLocalUrl: "/" not followed by "/" or "\"
    /// (or "~/"), and no control characters, because browsers drop tabs and newlines, so "/\t/evil.com" would go to
    /// evil.com. Characters a header cannot carry (non-ASCII, spaces) are percent-encoded.
    /// </summary>
    public static string? LocalUrl(string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length > 2048 || url.Any(char.IsControl))
        {
            return null;
        }
        if (url.StartsWith("~/", StringComparison.Ordinal))
        {
            url = url[1..];
        }
        if (url[0] != '/' || (url.Length > 1 && url[1] is '/' or '\\'))
        {
            return null;
        }
        var encoded = new StringBuilder(url.Length);
        var start = 0;
        while (start < url.Length)
        {
            var end = start;
            while (end < url.Length && !IsHeaderSafe(url[end]))
            {
                end++;
            }
            if (end > start)
            {
                encoded.Append(Uri.EscapeDataString(url[start..end]));
                start = end;
            }
            else
            {
                encoded.Append(url[start++]);
            }
        }
        return encoded.ToString();
    }

    private static bool IsHeaderSafe(char c) => c is > ' ' and < (char)0x7F;
}
