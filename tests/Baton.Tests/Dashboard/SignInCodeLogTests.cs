using System.Net;
using System.Text.RegularExpressions;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>
/// A sign-in code is as good as the key it signs in as, for an hour: it must never be written to a log, the
/// framework's request log (which logs every request URL at Information) included.
/// </summary>
public sealed partial class SignInCodeLogTests : IDisposable
{
    private const string Token = "signin-log-admin-token-0001";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-signin-log-").FullName;

    [Fact]
    public async Task Opening_and_spending_a_link_never_writes_its_code_to_the_server_log()
    {
        using var server = await ServerProcess.StartAsync(_dataDir, Token);
        var link = await server.Client(Token).CreateSignInLinkAsync();
        var code = Uri.UnescapeDataString(CodeInLink().Match(link.Url).Groups[1].Value);
        Assert.True(code.Length >= 32, link.Url);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = server.Url };

        // As a browser does: open the link, then press the page's button (which posts the code).
        var page = await browser.GetStringAsync(new Uri(link.Url));
        var csrf = WebUtility.HtmlDecode(CsrfField().Match(page).Groups[1].Value);
        using var signedIn = await browser.PostAsync("/signin/link", new FormUrlEncodedContent(new Dictionary<string, string> { ["code"] = code, ["__csrf"] = csrf }));
        using var home = await browser.GetAsync("/");
        var marker = "/log-marker-" + Guid.NewGuid().ToString("N");
        using var _ = await browser.GetAsync(marker);
        await server.WaitForOutputAsync(marker, TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains("Request starting", server.Output, StringComparison.Ordinal); // request URLs are logged here
        Assert.DoesNotContain(code, server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Uri.EscapeDataString(code), server.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
        if (Directory.Exists(_dataDir + "-work"))
        {
            Directory.Delete(_dataDir + "-work", recursive: true);
        }
    }

    [GeneratedRegex("code=([^&#]+)")]
    private static partial Regex CodeInLink();

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}
