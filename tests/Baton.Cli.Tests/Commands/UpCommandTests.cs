using System.Text.Json;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

/// <summary>The real `baton up` in a child process, and the real `baton` commands against it.</summary>
public sealed class UpCommandTests(UpServerFixture fixture) : IClassFixture<UpServerFixture>
{
    private BatonServer Server => fixture.Server;

    /// <summary>A shell on this machine that points at the data dir, with no token given.</summary>
    private Dictionary<string, string> LocalShell => new() { ["BATON_DATA_DIR"] = Server.DataDir };

    [Fact]
    public void Keeps_an_admin_key_only_its_owner_can_read()
    {
        var path = Path.Combine(Server.DataDir, "admin.token");

        Assert.True(File.Exists(path), $"{path} should exist");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        Assert.True(File.ReadAllText(path).Trim().Length >= 16);
    }

    [Fact]
    public async Task Answers_healthz()
    {
        using var http = new HttpClient();

        using var response = await http.GetAsync(new Uri(Server.Url + "/healthz"));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public void Banner_says_where_it_runs_and_how_to_log_in()
    {
        var banner = Server.Stdout;

        // Paths relative to the folder it was started in; the data dir is ./data there, not the default ./.baton,
        // and the port not 7070, so the banner says what `baton` commands need to find it.
        Assert.StartsWith($"Baton is up at {Server.Url} (API + engine, SQLite in data)", banner, StringComparison.Ordinal);
        Assert.Contains($"Dashboard  {Server.Url}/", banner, StringComparison.Ordinal);
        Assert.Contains("Admin key  data/admin.token", banner, StringComparison.Ordinal);
        Assert.Contains($"curl -H \"Authorization: Bearer $(cat data/admin.token)\" {Server.Url}/api/runs", banner, StringComparison.Ordinal);
        Assert.Contains($"export BATON_URL={Server.Url} BATON_DATA_DIR={Server.DataDir}", banner, StringComparison.Ordinal);
        Assert.Contains("Ctrl+C", banner, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Banner_prints_a_one_time_sign_in_link_that_signs_a_browser_in_once()
    {
        var link = System.Text.RegularExpressions.Regex.Match(Server.Stdout, @"Sign in    (\S+/signin/link#code=\S+)").Groups[1].Value;
        Assert.StartsWith(Server.Url + "/signin/link#code=", link, StringComparison.Ordinal);

        var cookies = new System.Net.CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false });
        // The code is the link's fragment, which is not sent: the page's script posts it, as this test does.
        var page = await browser.GetStringAsync(new Uri(link));
        var form = new Dictionary<string, string>
        {
            ["__csrf"] = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(page, "name=\"__csrf\" value=\"([^\"]+)\"").Groups[1].Value),
            ["code"] = Uri.UnescapeDataString(link[(link.IndexOf("#code=", StringComparison.Ordinal) + 6)..]),
        };
        using var preview = await browser.PostAsync(new Uri(Server.Url + "/signin/link/preview"), new FormUrlEncodedContent(form));
        Assert.Contains("Sign in as local-admin", await preview.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var signedIn = await browser.PostAsync(new Uri(Server.Url + "/signin/link"), new FormUrlEncodedContent(form));

        Assert.Equal(System.Net.HttpStatusCode.Redirect, signedIn.StatusCode);
        using var other = new HttpClient(new HttpClientHandler { CookieContainer = new System.Net.CookieContainer(), AllowAutoRedirect = false });
        var otherPage = await other.GetStringAsync(new Uri(link));
        form["__csrf"] = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(otherPage, "name=\"__csrf\" value=\"([^\"]+)\"").Groups[1].Value);
        using var spent = await other.PostAsync(new Uri(Server.Url + "/signin/link/preview"), new FormUrlEncodedContent(form));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, spent.StatusCode);
        Assert.Contains("already used or expired", await spent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var runs = await browser.GetAsync(new Uri(Server.Url + "/"));
        Assert.Equal(System.Net.HttpStatusCode.OK, runs.StatusCode);
    }

    [Fact]
    public async Task Dashboard_prints_a_fresh_sign_in_link()
    {
        var result = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "dashboard", "--url", Server.Url);
        var json = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "dashboard", "--json", "--url", Server.Url);

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.StartsWith($"Open {Server.Url}/signin/link#code=", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("once, until", result.Stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.StartsWith($"{Server.Url}/signin/link#code=", doc.RootElement.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.NotEqual(result.Stdout.Split('\n')[0], "Open " + doc.RootElement.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Run_list_json_needs_no_token_against_a_local_up()
    {
        var result = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "run", "list", "--json", "--url", Server.Url);

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.StartsWith("{\"runs\":[],", result.Stdout, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(0, json.RootElement.GetProperty("total").GetInt64());
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task Run_list_prints_a_table_for_people()
    {
        var result = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "run", "list", "--url", Server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("No runs.", result.Stdout.Trim());
    }

    [Fact]
    public async Task A_wrong_token_exits_5()
    {
        var result = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "run", "list", "--url", Server.Url, "--token", "wrong");

        Assert.Equal(ExitCodes.Auth, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: Unauthorized (401)", line, StringComparison.Ordinal);
        Assert.Contains("--token", line, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("--limit", "0", "limit")]
    [InlineData("--limit", "201", "limit")]
    [InlineData("--status", "bogus", "unknown status 'bogus'")]
    public async Task Input_the_server_refuses_exits_2(string option, string value, string mentioned)
    {
        var result = await BatonProcess.RunAsync(Server.DataDir, LocalShell, "run", "list", "--url", Server.Url, option, value);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: Invalid input (400): ", line, StringComparison.Ordinal);
        Assert.Contains(mentioned, line, StringComparison.Ordinal);
    }
}
