using System.Net;
using System.Net.Http.Headers;
using AngleSharp.Html.Parser;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Abuse;

/// <summary>
/// Thousands of generated bad requests (<see cref="BadInputCorpus"/>) at every endpoint the app maps: none gets a 5xx,
/// the server still answers, a refused write changes no stored value (checked after each one) and no read changes any
/// (checked after each endpoint's reads). The audit log is left out of that comparison: recording each attempt is the
/// one write a refused request is meant to make.
/// </summary>
public sealed class BadInputCorpusTests : IDisposable
{
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string>
    {
        ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    });

    [Fact]
    public async Task Every_endpoint_refuses_the_corpus_without_a_5xx_and_refused_requests_change_nothing()
    {
        var admin = _factory.Client();
        var run = await admin.CreateRunAsync(new CreateRunRequest("gated", "the corpus's run"));
        await admin.WaitForStatusAsync(run.RunId, "awaiting_approval");
        var artifact = (await admin.ListArtifactsAsync(run.RunId)).Phases[0].Artifacts[0].Name;
        var viewer = await admin.CreateKeyAsync(new CreateKeyRequest("corpus-viewer", "viewer"));
        var @operator = await admin.CreateKeyAsync(new CreateKeyRequest("corpus-operator", "operator"));
        using var http = _factory.Http(token: null);
        var ids = new KnownIds(run.RunId, artifact, "gated", BatonFactory.AdminToken, viewer.Token, @operator.Token, await AntiforgeryTokenAsync(http));

        var db = _factory.Service<Database>();
        var random = new Random(BadInputCorpus.Seed);
        var endpoints = EndpointCatalog.Of(_factory.Services);
        var requests = endpoints.SelectMany(e => BadInputCorpus.For(e, ids, random).Select(r => (Endpoint: e, Request: r))).ToList();
        Assert.True(requests.Count >= 3000, $"the corpus has {requests.Count} requests");

        var baseline = await QuietSnapshotAsync(db);
        var failures = new List<string>();
        var refused = 0;
        foreach (var batch in requests.GroupBy(r => r.Endpoint))
        {
            var endpoint = batch.Key;
            foreach (var (_, bad) in batch)
            {
                int status;
                try
                {
                    status = await SendAsync(http, bad);
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or IOException)
                {
                    failures.Add($"{bad.Method} {endpoint.Route} with {bad.What}: the server failed the request: {ex.GetType().Name}: {ex.Message}");
                    continue;
                }
                if (status >= 500)
                {
                    failures.Add($"{bad.Method} {endpoint.Route} with {bad.What}: {status}");
                }
                refused += status >= 400 ? 1 : 0;
                if (!endpoint.IsWrite)
                {
                    // Reads change nothing, let through or not: checked once for the endpoint's whole batch, below.
                    continue;
                }
                if (status >= 400)
                {
                    var after = await DatabaseSnapshot.TakeAsync(db);
                    if (after != baseline)
                    {
                        failures.Add($"{bad.Method} {endpoint.Route} with {bad.What}: refused ({status}) but changed the database: {DatabaseSnapshot.FirstDifference(baseline, after)}");
                        baseline = await QuietSnapshotAsync(db);
                    }
                }
                else
                {
                    // A write whose input was acceptable: what it changed is the new baseline, once the work it started is done.
                    baseline = await QuietSnapshotAsync(db);
                }
            }
            if (!endpoint.IsWrite)
            {
                var after = await DatabaseSnapshot.TakeAsync(db);
                if (after != baseline)
                {
                    failures.Add($"{endpoint.Key}: reads changed the database: {DatabaseSnapshot.FirstDifference(baseline, after)}");
                    baseline = await QuietSnapshotAsync(db);
                }
            }
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.True(failures.Count == 0, $"{failures.Count} of {requests.Count} requests ({refused} refused) went wrong:\n" + string.Join("\n", failures.Take(200)));
        // Most of the corpus must be refused, or it is not testing refusals.
        Assert.True(refused > requests.Count * 3 / 4, $"only {refused} of {requests.Count} requests were refused");
    }

    private static async Task<int> SendAsync(HttpClient http, BadRequest bad)
    {
        using var request = new HttpRequestMessage(new HttpMethod(bad.Method), bad.PathAndQuery) { Content = bad.Body() };
        if (bad.Token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bad.Token);
        }
        foreach (var (name, value) in bad.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // Event streams stay open: their status is all this needs.
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        return (int)response.StatusCode;
    }

    /// <summary>
    /// A snapshot once the server is done with what a request started: the same three times, 20 ms apart, and (on
    /// PostgreSQL) every event has its id, which the sequencer gives after the commit.
    /// </summary>
    private static async Task<string> QuietSnapshotAsync(Database db)
    {
        var last = await DatabaseSnapshot.TakeAsync(db);
        for (var same = 0; same < 2;)
        {
            await Task.Delay(20);
            var now = await DatabaseSnapshot.TakeAsync(db);
            var sequenced = db.Dialect.SingleWriter || await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE seq IS NULL")) == 0;
            same = now == last && sequenced ? same + 1 : 0;
            last = now;
        }
        return last;
    }

    /// <summary>
    /// The admin key's antiforgery token, from the new-run page's form, so forms are read past it. Its cookie stays in
    /// <paramref name="http"/>'s cookie jar, which the corpus is sent with.
    /// </summary>
    private static async Task<string> AntiforgeryTokenAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/runs/new");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BatonFactory.AdminToken);
        using var page = await http.SendAsync(request);
        page.EnsureSuccessStatusCode();
        using var html = await new HtmlParser().ParseDocumentAsync(await page.Content.ReadAsStringAsync());
        return html.QuerySelector("input[name=__csrf]")?.GetAttribute("value") ?? throw new InvalidOperationException("the new-run form has no antiforgery field");
    }

    public void Dispose() => _factory.Dispose();
}
