using Microsoft.Net.Http.Headers;

namespace Baton;

/// <summary>
/// Bodies are UTF-8 (JSON must be, RFC 8259; forms are). A Content-Type naming another charset is refused up front:
/// the framework's JSON reader throws for one it cannot load (utf-7 is disabled in .NET), which was a 500.
/// </summary>
public static class RequestCharset
{
    /// <summary>The charset the request's Content-Type names, when it is not UTF-8 (or ASCII, a subset); else null.</summary>
    public static string? Unsupported(HttpRequest request)
    {
        if (request.ContentType is not { Length: > 0 } contentType
            || !MediaTypeHeaderValue.TryParse(contentType, out var type)
            || type.Charset.Value is not { Length: > 0 } charset)
        {
            return null;
        }
        var name = charset.Trim('"');
        return name.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || name.Equals("utf8", StringComparison.OrdinalIgnoreCase)
            || name.Equals("us-ascii", StringComparison.OrdinalIgnoreCase)
            ? null
            : name;
    }
}
