using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Dashboard;
using Baton.Storage;
using Dapper;

namespace Baton.Bench;

internal sealed record PageResult(string Name, string Path, Distribution Server, Distribution RoundTrip, int Bytes, int Rows);

internal sealed record DashboardResult(int Pass, int SeedRuns, IReadOnlyList<PageResult> Pages, Distribution UnboundedSearch);

/// <summary>
/// Part 4: the dashboard's runs list (<c>GET /</c>, a server-rendered Razor page) over the same seeded table as part
/// 3, as a signed-in person sees it: first page, a status filter, a later page and text searches. The server's own
/// time per request comes from a middleware at the front of its pipeline (sign-in cookie, query, rendering, writing).
/// </summary>
internal static partial class DashboardPagesBench
{
    public const double TargetP95 = 50;

    private sealed record Query(string Name, string Path);

    public static async Task<DashboardResult> RunAsync(BenchOptions options, int pass)
    {
        var dir = BenchServer.NewDataDir(options.DataRoot);
        var databasePath = Path.Combine(dir, "baton.db");
        try
        {
            await RunListBench.SeedAsync(dir, databasePath, options.SeedRuns, options.IntakeBytes);
        }
        catch
        {
            BenchServer.DeleteDataDir(dir);
            throw;
        }
        await using var server = await BenchServer.StartAsync(dir, options.LatencyWorkers, options.WatchedDataDir, timeRequests: true);
        var db = new SqliteDatabase(databasePath);
        var someId = await db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT id FROM runs ORDER BY created_at LIMIT 1 OFFSET @half", new { half = options.SeedRuns / 2 }));
        var looked = await FinishedRunAsync(server);
        Query[] queries =
        [
            new("first page, no filter", "/"),
            new($"status={RunListBench.RareStatus}", $"/?status={RunListBench.RareStatus}"),
            new("later page, offset=5000", "/?offset=5000"),
            new($"search q={RunListBench.OneProject} (common)", $"/?q={RunListBench.OneProject}"),
            new("search q=no-such-text (no match: the whole window is read)", "/?q=no-such-text"),
            new("search q=<a whole run id from the middle>", $"/?q={someId}"),
            new("run page, Phases tab (timeline, decisions)", $"/runs/{looked}"),
            new("run page, Artifacts tab", $"/runs/{looked}?tab=artifacts"),
            new("run page, Metrics tab (charts)", $"/runs/{looked}?tab=metrics"),
            new("run page, Logs tab", $"/runs/{looked}?tab=logs"),
            new("run page, Events tab", $"/runs/{looked}?tab=events"),
            new("artifact page, a Mermaid flowchart drawn", $"/runs/{looked}/artifacts/diagram.mmd"),
        ];

        using var http = await SignedInAsync(server);
        await Warmup.UntilJitSettlesAsync(async () =>
        {
            foreach (var q in queries)
            {
                for (var i = 0; i < 10; i++)
                {
                    await GetAsync(http, server, q);
                }
            }
        });

        // Round-robin, so that noise from the shared machine spreads over all of them alike.
        var serverTimes = queries.ToDictionary(q => q, _ => new List<double>(options.Requests));
        var roundTrips = queries.ToDictionary(q => q, _ => new List<double>(options.Requests));
        for (var i = 0; i < options.Requests; i++)
        {
            foreach (var q in queries)
            {
                var start = Stopwatch.GetTimestamp();
                var (serverMs, _) = await GetAsync(http, server, q);
                roundTrips[q].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                serverTimes[q].Add(serverMs);
            }
        }

        var pages = new List<PageResult>();
        foreach (var q in queries)
        {
            var (_, html) = await GetAsync(http, server, q);
            pages.Add(new PageResult(q.Name, q.Path, Distribution.Of(serverTimes[q]), Distribution.Of(roundTrips[q]), html.Length, RowCount().Count(html)));
        }

        // What the search would cost without its window: the same LIKE over every run (not served; for the record).
        var like = "%no-such-text%";
        var unbounded = new List<double>();
        for (var i = 0; i < Math.Max(5, options.Requests / 20); i++)
        {
            var start = Stopwatch.GetTimestamp();
            await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                @"SELECT COUNT(*) FROM runs WHERE id LIKE @like ESCAPE '\' OR profile LIKE @like ESCAPE '\' OR project_name LIKE @like ESCAPE '\'", new { like }));
            unbounded.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return new DashboardResult(pass, options.SeedRuns, pages, Distribution.Of(unbounded));
    }

    /// <summary>
    /// A real planning_rail run, finished, among the seeded ones: its pages read its phases, artifacts, metrics, log
    /// and events. Its API requests went through the timing middleware too; their times are dropped.
    /// </summary>
    private static async Task<string> FinishedRunAsync(BenchServer server)
    {
        var run = await server.Client.CreateRunAsync(new CreateRunRequest("planning_rail", "# Export\n\nCSV export of the runs list."));
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while ((await server.Client.GetRunAsync(run.RunId, limit.Token)).Status != "completed")
        {
            await Task.Delay(50, limit.Token);
        }
        await Task.Delay(200, limit.Token);
        while (server.RequestTimes.Reader.TryRead(out _))
        {
        }
        return run.RunId;
    }

    private static async Task<(double ServerMs, string Html)> GetAsync(HttpClient http, BenchServer server, Query q)
    {
        using var response = await http.GetAsync(q.Path);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"GET {q.Path} answered {(int)response.StatusCode}");
        }
        var html = await response.Content.ReadAsStringAsync();
        // The middleware records after the response is complete, which can be just after the client has read it.
        var serverMs = await server.RequestTimes.Reader.ReadAsync();
        return (serverMs, html);
    }

    /// <summary>A client with the dashboard's session cookie, signed in through the sign-in form as a person would be.</summary>
    private static async Task<HttpClient> SignedInAsync(BenchServer server)
    {
        var http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = server.Client.Http.BaseAddress,
        };
        var form = await http.GetStringAsync("/signin");
        await server.RequestTimes.Reader.ReadAsync();
        var token = WebUtility.HtmlDecode(CsrfField().Match(form).Groups[1].Value);
        using var body = new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = token, ["api_key"] = BenchServer.AdminToken });
        using var signedIn = await http.PostAsync("/signin", body);
        await server.RequestTimes.Reader.ReadAsync();
        if (signedIn.StatusCode != HttpStatusCode.Redirect)
        {
            throw new InvalidOperationException($"signing in to the dashboard answered {(int)signedIn.StatusCode}");
        }
        return http;
    }

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    [GeneratedRegex("<tr data-run=")]
    private static partial Regex RowCount();

    public static string Window => RunListEndpoints.SearchWindow.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
}
