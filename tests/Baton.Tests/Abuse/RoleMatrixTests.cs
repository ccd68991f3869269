using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Baton.Audit;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Abuse;

/// <summary>
/// Every endpoint the app maps, with no key, a revoked key, an expired key and a key of each role: 401, 403 or let
/// through as docs/SECURITY.md's role table says, and every write, refused or not, is one entry of the audit log with
/// its key, its action and its status.
/// </summary>
public sealed class RoleMatrixTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly BatonFactory _factory;

    public RoleMatrixTests()
    {
        _factory = new BatonFactory(_clock, profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight });
    }

    /// <summary>Who sends a request: a role's key, or a key that no longer counts, or none.</summary>
    private sealed record Credential(string Name, string? Token, string? KeyId, int Rank);

    [Fact]
    public async Task Every_endpoint_answers_each_key_as_the_role_table_says_and_every_write_is_audited_once()
    {
        var admin = _factory.Client();
        var credentials = new List<Credential> { new("no key", null, null, -1) };
        foreach (var role in Roles.Ordered)
        {
            var key = await admin.CreateKeyAsync(new CreateKeyRequest($"matrix-{role}", role));
            credentials.Add(new(role, key.Token, key.KeyId, Roles.Rank(role)));
        }

        // A revoked key and an expired one (both admin, the most they could do) work until that moment, then not at all.
        var revoked = await admin.CreateKeyAsync(new CreateKeyRequest("matrix-revoked", "admin"));
        var expiring = await admin.CreateKeyAsync(new CreateKeyRequest("matrix-expired", "admin", Start.AddMinutes(5)));
        Assert.Equal(HttpStatusCode.OK, (await _factory.Http(revoked.Token).GetAsync("/api/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _factory.Http(expiring.Token).GetAsync("/api/keys")).StatusCode);
        await admin.RevokeKeyAsync(revoked.KeyId);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _factory.Http(revoked.Token).GetAsync("/api/keys")).StatusCode);
        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _factory.Http(expiring.Token).GetAsync("/api/keys")).StatusCode);
        // Refused, but recorded with the key they came with.
        credentials.Add(new("revoked admin key", revoked.Token, revoked.KeyId, -1));
        credentials.Add(new("expired admin key", expiring.Token, expiring.KeyId, -1));

        var endpoints = EndpointCatalog.Of(_factory.Services);
        AssertCatalogMatches(endpoints);

        var db = _factory.Service<Database>();
        var audited = await AuditCountAsync(db);
        var failures = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var needs = EndpointCatalog.RoleOf(endpoint);
            foreach (var who in credentials)
            {
                var (status, location) = await SendAsync(endpoint, who);
                var expected = Expect(endpoint, needs, who);
                if (!expected.Allows(status, location))
                {
                    failures.Add($"{endpoint.Key} as {who.Name}: {status}{(location is null ? "" : " to " + location)}, expected {expected.Text}");
                }
                if (endpoint.IsWrite)
                {
                    audited++;
                    var entry = await NewestAuditEntryAsync(db, audited);
                    if (entry is null)
                    {
                        failures.Add($"{endpoint.Key} as {who.Name}: no audit entry (or more than one) for the write");
                        audited = await AuditCountAsync(db);
                    }
                    else if ((entry.KeyId, entry.Method, entry.Route, entry.Status) != (who.KeyId, endpoint.Method, endpoint.Route, status))
                    {
                        failures.Add($"{endpoint.Key} as {who.Name}: audit entry says key {entry.KeyId ?? "none"}, {entry.Method} {entry.Route}, {entry.Status}; " +
                            $"expected key {who.KeyId ?? "none"}, {endpoint.Method} {endpoint.Route}, {status}");
                    }
                }
            }
        }
        // Reads are not recorded: the last write's entry is still the newest.
        Assert.Equal(audited, await AuditCountAsync(db));
        Assert.True(failures.Count == 0, $"{failures.Count} of {endpoints.Count * credentials.Count} answers were wrong:\n" + string.Join("\n", failures));
    }

    /// <summary>The catalog names exactly the endpoints the app maps: a new endpoint needs a role; a removed one, its line gone.</summary>
    private static void AssertCatalogMatches(IReadOnlyList<MappedEndpoint> endpoints)
    {
        var unknown = endpoints.Where(e => !EndpointCatalog.Expected.ContainsKey(e.Key)).Select(e => e.Key).ToList();
        Assert.True(unknown.Count == 0,
            "The app maps endpoints that tests/Baton.Tests/Abuse/EndpointCatalog.cs does not know; add each to Expected with the least role " +
            "docs/SECURITY.md gives it (or Anonymous):\n" + string.Join("\n", unknown));
        var stale = EndpointCatalog.Expected.Keys.Except(endpoints.Select(e => e.Key)).ToList();
        Assert.True(stale.Count == 0, "EndpointCatalog.Expected names endpoints the app no longer maps; remove them:\n" + string.Join("\n", stale));
    }

    private sealed record Expectation(string Text, Func<int, string?, bool> Allows);

    private static Expectation Expect(MappedEndpoint endpoint, string needs, Credential who)
    {
        if (needs == EndpointCatalog.Anonymous)
        {
            return new("anything but a 5xx or a role refusal", (s, _) => s < 500 && s != 403);
        }
        if (who.Token is null)
        {
            // A browser without a session is sent to sign in; a script gets 401.
            return endpoint.IsDashboard
                ? new("302 to /signin", (s, l) => s == 302 && l is not null && new Uri(new Uri("http://localhost"), l).AbsolutePath == "/signin")
                : new("401", (s, _) => s == 401);
        }
        if (who.Rank < 0)
        {
            return new("401", (s, _) => s == 401);
        }
        return who.Rank < Roles.Rank(needs)
            ? new("403", (s, _) => s == 403)
            : new($"let through (not 401, 403 or 5xx) for {needs}", (s, _) => s is not (401 or 403) && s < 500);
    }

    private async Task<(int Status, string? Location)> SendAsync(MappedEndpoint endpoint, Credential who)
    {
        var path = endpoint.PathWith(name => name switch
        {
            "name" => "notes.md",
            "file" => "site.css",
            "documentName" => "v1",
            _ => "matrix_unknown",
        });
        using var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), path) { Content = BodyOf(endpoint) };
        if (who.Token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", who.Token);
        }
        using var http = _factory.Http(token: null);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // Event streams stay open: their status is all this needs.
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        return ((int)response.StatusCode, response.Headers.Location?.OriginalString);
    }

    /// <summary>An empty body of the kind the endpoint reads: a JSON object, a dashboard form, or none.</summary>
    internal static HttpContent? BodyOf(MappedEndpoint endpoint) =>
        !endpoint.IsWrite || endpoint.Method == "DELETE" ? null
        : endpoint.JsonBody is not null ? new StringContent("{}", Encoding.UTF8, "application/json")
        : endpoint.IsDashboard ? new FormUrlEncodedContent([])
        : null;

    private static Task<long> AuditCountAsync(Database db) =>
        db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log"));

    /// <summary>
    /// The newest entry once the log holds <paramref name="count"/> entries (the entry is written after the answer, so
    /// it may come a moment later), or null when it never does or holds more.
    /// </summary>
    private static async Task<AuditRow?> NewestAuditEntryAsync(Database db, long count)
    {
        for (var tries = 0; tries < 500; tries++)
        {
            var now = await AuditCountAsync(db);
            if (now == count)
            {
                return (await db.ReadAsync(c => AuditStore.PageAsync(c, new AuditQuery(null, null, null, null, null, 1))))[0];
            }
            if (now > count)
            {
                return null;
            }
            await Task.Delay(10);
        }
        return null;
    }

    public void Dispose() => _factory.Dispose();
}
