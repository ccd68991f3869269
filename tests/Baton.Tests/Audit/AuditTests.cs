using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Audit;

/// <summary>The audit log: every write, refused or not, with who, what, when, where and its status; append-only.</summary>
public sealed class AuditTests
{
    [Fact]
    public async Task Writes_allowed_and_refused_are_recorded_with_key_action_run_address_and_status_and_reads_are_not()
    {
        using var factory = new ApiFactory();
        var admin = factory.Client();
        var viewer = await admin.CreateKeyAsync(new CreateKeyRequest("audit-viewer", "viewer"));
        var revoked = await admin.CreateKeyAsync(new CreateKeyRequest("audit-revoked", "operator"));
        await admin.RevokeKeyAsync(revoked.KeyId);

        var runId = (await admin.CreateRunAsync(new CreateRunRequest("gated", "x"))).RunId;
        await admin.WaitForStatusAsync(runId, "awaiting_approval");
        await admin.ApproveAsync(runId);
        var twice = await factory.Http().PostAsync($"/api/runs/{runId}/approve", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.Http(viewer.Token).PostAsJsonAsync("/api/runs", new { profile = "straight", intake = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(revoked.Token).PostAsJsonAsync("/api/runs", new { profile = "straight", intake = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(token: null).PostAsJsonAsync("/api/runs", new { profile = "straight", intake = "x" })).StatusCode);
        await admin.GetRunAsync(runId);

        // The anonymous attempt was the last write; its entry, like every entry, is written once the answer is sent.
        var entries = await EntriesOnceAsync(admin, all => all.Any(e => (e.Status, e.Actor) == (401, "anonymous")));
        Assert.DoesNotContain(entries, e => e.Method == "GET");
        var adminKey = entries.Single(e => e.Route == "/api/runs" && e.Status == 201).KeyId;
        Assert.NotNull(adminKey);
        Assert.Contains(entries, e => (e.Method, e.Route, e.RunId, e.Status, e.KeyId) == ("POST", "/api/runs/{id}/approve", runId, 200, adminKey));
        Assert.Contains(entries, e => (e.Method, e.Route, e.RunId, e.Status) == ("POST", "/api/runs/{id}/approve", runId, 409));
        Assert.Contains(entries, e => (e.Route, e.Status, e.KeyId, e.Actor) == ("/api/runs", 403, viewer.KeyId, "audit-viewer"));
        Assert.Single(entries, e => (e.Route, e.Status, e.KeyId, e.Actor) == ("/api/runs", 401, null, "anonymous"));
        // A revoked key's attempt names that key: a leaked key still in use shows up.
        Assert.Single(entries, e => (e.Route, e.Status, e.KeyId, e.Actor) == ("/api/runs", 401, revoked.KeyId, "audit-revoked"));
        Assert.Contains(entries, e => (e.Method, e.Route, e.Status) == ("DELETE", "/api/keys/{id}", 204));
        // The in-memory test server has no client address; the CLI tests see 127.0.0.1 from a real server.
        Assert.Equal(entries.OrderByDescending(e => e.Id).Select(e => e.Id), entries.Select(e => e.Id));

        // Filters: a run, a key, an action.
        var ofRun = (await admin.ListAuditAsync(runId: runId)).Entries;
        Assert.Equal([409, 200], ofRun.Select(e => e.Status));
        Assert.All((await admin.ListAuditAsync(keyId: viewer.KeyId)).Entries, e => Assert.Equal(viewer.KeyId, e.KeyId));
        Assert.Single((await admin.ListAuditAsync(keyId: viewer.KeyId)).Entries);
        var approvals = (await admin.ListAuditAsync(action: "post /api/runs/{id}/approve")).Entries;
        Assert.Equal(2, approvals.Count);

        // Pages: newest first, each after the last id of the one before, until there is none.
        var seen = new List<long>();
        long? before = null;
        do
        {
            var page = await admin.ListAuditAsync(before: before, limit: 2);
            seen.AddRange(page.Entries.Select(e => e.Id));
            before = page.NextBefore;
        }
        while (before is not null);
        Assert.Equal(entries.Select(e => e.Id), seen);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("before=0", "before")]
    [InlineData("action=approve", "action")]
    [InlineData("action=POST%20runs", "action")]
    [InlineData("key=", "key")]
    public async Task Bad_filters_are_400_naming_the_field(string query, string field)
    {
        using var factory = new BatonFactory();
        var response = await factory.Http().GetAsync("/api/audit?" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
    }

    [Fact]
    public async Task Malformed_numbers_and_other_roles_get_no_audit_log()
    {
        using var factory = new BatonFactory();
        Assert.Equal(HttpStatusCode.BadRequest, (await factory.Http().GetAsync("/api/audit?limit=abc")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await factory.Http().GetAsync("/api/audit?before=99999999999999999999999")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await factory.Http().GetAsync("/api/audit?key=" + new string('k', 65))).StatusCode);
        var approver = await factory.Client().CreateKeyAsync(new CreateKeyRequest("audit-approver", "approver"));
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.Http(approver.Token).GetAsync("/api/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(token: null).GetAsync("/api/audit")).StatusCode);
    }

    [Fact]
    public async Task Entries_cannot_be_changed_or_deleted_even_in_the_database()
    {
        using var factory = new BatonFactory();
        await factory.Client().CreateKeyAsync(new CreateKeyRequest("audit-someone", "viewer"));
        await EntriesOnceAsync(factory.Client(), all => all.Count > 0);

        await using var db = TestDatabase.Open(factory.DataDir);
        var update = await Record.ExceptionAsync(() => db.WriteAsync((c, tx) => c.ExecuteAsync("UPDATE audit_log SET status = 200", transaction: tx)));
        var delete = await Record.ExceptionAsync(() => db.WriteAsync((c, tx) => c.ExecuteAsync("DELETE FROM audit_log", transaction: tx)));
        Assert.Contains("append-only", update?.Message, StringComparison.Ordinal);
        Assert.Contains("append-only", delete?.Message, StringComparison.Ordinal);
        Assert.NotEmpty((await factory.Client().ListAuditAsync()).Entries);
    }

    /// <summary>
    /// The log (newest 500) once <paramref name="ready"/> holds: an entry is committed after its request's answer has
    /// been sent (AuditLog), so a read right after the answer may come a moment before it.
    /// </summary>
    private static async Task<IReadOnlyList<AuditEntry>> EntriesOnceAsync(BatonClient client, Func<IReadOnlyList<AuditEntry>, bool> ready)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var entries = (await client.ListAuditAsync(limit: 500)).Entries;
            if (ready(entries) || DateTime.UtcNow > deadline)
            {
                return entries;
            }
            await Task.Delay(10);
        }
    }
}
