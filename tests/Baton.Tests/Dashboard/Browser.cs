using System.Net;
using System.Text.RegularExpressions;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>A cookie-keeping HTTP client that reads pages and posts their forms with the page's antiforgery token.</summary>
public sealed partial class Browser(BatonFactory factory) : IDisposable
{
    private readonly HttpClient _http = factory.Http(token: null);

    /// <summary>The underlying client (with the session cookie), for requests that are not pages.</summary>
    public HttpClient Raw => _http;

    /// <summary>The antiforgery token of the last page read.</summary>
    public string? Token { get; private set; }

    public async Task<Page> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return await ReadAsync(response);
    }

    public async Task<Page> PostAsync(string path, IDictionary<string, string>? fields = null, bool withToken = true)
    {
        var form = new Dictionary<string, string>(fields ?? new Dictionary<string, string>());
        if (withToken && Token is not null)
        {
            form["__csrf"] = Token;
        }
        using var response = await _http.PostAsync(path, new FormUrlEncodedContent(form));
        return await ReadAsync(response);
    }

    /// <summary>A browser signed in with a new key of this role (made by the admin), on <paramref name="firstPage"/> if given.</summary>
    public static async Task<Browser> SignedInAsync(BatonFactory factory, string role, string? firstPage = null)
    {
        var key = await factory.Client().CreateKeyAsync(new Client.CreateKeyRequest($"browser-{role}-{Guid.NewGuid():N}", role));
        var browser = new Browser(factory);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.SignInAsync(key.Token)).Status);
        if (firstPage is not null)
        {
            await browser.GetAsync(firstPage);
        }
        return browser;
    }

    /// <summary>Reads the sign-in page (for its token) and signs in with this key.</summary>
    public async Task<Page> SignInAsync(string apiKey)
    {
        await GetAsync("/signin");
        return await PostAsync("/signin", new Dictionary<string, string> { ["api_key"] = apiKey });
    }

    /// <summary>
    /// Opens the live-update stream (/events) as a page's script does, and reads it: the task ends when the server
    /// ends the stream (or <paramref name="ct"/> does).
    /// </summary>
    public async Task<Task> ReadEventStreamAsync(CancellationToken ct)
    {
        var open = await _http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        var body = await open.Content.ReadAsStreamAsync(ct);
        return ReadToEndAsync();

        async Task ReadToEndAsync()
        {
            using (open)
            {
                await body.CopyToAsync(Stream.Null, ct);
            }
        }
    }

    private async Task<Page> ReadAsync(HttpResponseMessage response)
    {
        var html = await response.Content.ReadAsStringAsync();
        var token = CsrfField().Match(html);
        if (token.Success)
        {
            Token = WebUtility.HtmlDecode(token.Groups[1].Value);
        }
        return new Page(response.StatusCode, html, response.Headers.Location?.ToString(),
            response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies.ToList() : [],
            response.Content.Headers.ContentType?.MediaType,
            response.Headers.TryGetValues("Content-Security-Policy", out var csp) ? string.Join(";", csp) : null);
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}

public sealed record Page(HttpStatusCode Status, string Html, string? Location, IReadOnlyList<string> Cookies, string? MediaType, string? Csp)
{
    /// <summary>The version hidden field of a run page's forms.</summary>
    public string Version => Regex.Match(Html, "name=\"version\" value=\"(\\d+)\"").Groups[1].Value;
}
