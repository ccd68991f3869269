using System.Net;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Auth;

public class KeysApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    [Fact]
    public async Task A_created_key_works_at_once_is_listed_without_its_token_and_stops_at_once_when_revoked()
    {
        var created = await _admin.CreateKeyAsync(new CreateKeyRequest("ci-bot", "operator"));
        Assert.StartsWith("bat_", created.Token, StringComparison.Ordinal);
        var bot = factory.Client(created.Token);
        Assert.NotNull(await bot.ListRunsAsync());

        var listed = (await _admin.ListKeysAsync()).Keys.Single(k => k.KeyId == created.KeyId);
        Assert.Equal(("ci-bot", "operator", "bootstrap-admin"), (listed.Name, listed.Role, listed.CreatedBy));
        var raw = await factory.Http().GetStringAsync("/api/keys");
        Assert.DoesNotContain(created.Token, raw, StringComparison.Ordinal);
        Assert.DoesNotContain("token", raw, StringComparison.Ordinal);

        await _admin.RevokeKeyAsync(created.KeyId);
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => bot.ListRunsAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, ex.Status);
        Assert.NotNull((await _admin.ListKeysAsync()).Keys.Single(k => k.KeyId == created.KeyId).RevokedAt);

        var again = await Assert.ThrowsAsync<BatonApiException>(() => _admin.RevokeKeyAsync(created.KeyId));
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
    }

    [Theory]
    [InlineData("""{"role":"viewer"}""", "name")]
    [InlineData("""{"name":"x"}""", "role")]
    [InlineData("""{"name":"x","role":"root"}""", "role")]
    [InlineData("""{"name":"x","role":"viewer","expires_at":"2001-01-01T00:00:00Z"}""", "expires_at")]
    [InlineData("""{"name":"x","role":"viewer","expires_at":"soon"}""", "expires_at")]
    [InlineData("""{"name":"x","role":"viewer","scopes":[]}""", "scopes")]
    public async Task Bad_key_requests_are_400(string json, string field)
    {
        var response = await factory.Http().PostAsync("/api/keys", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), body.ToString());
    }

    [Fact]
    public async Task Names_are_unique_among_active_keys_unknown_ids_are_404_and_only_admins_manage_keys()
    {
        await _admin.CreateKeyAsync(new CreateKeyRequest("dup", "viewer"));
        var dup = await Assert.ThrowsAsync<BatonApiException>(() => _admin.CreateKeyAsync(new CreateKeyRequest("dup", "admin")));
        Assert.Equal(HttpStatusCode.Conflict, dup.Status);

        var missing = await Assert.ThrowsAsync<BatonApiException>(() => _admin.RevokeKeyAsync("key_nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);

        var approver = await factory.ClientAsAsync("approver");
        Assert.Equal(HttpStatusCode.Forbidden, (await Assert.ThrowsAsync<BatonApiException>(() => approver.ListKeysAsync())).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(token: null).GetAsync("/api/keys")).StatusCode);
    }

    [Fact]
    public async Task Malformed_authorization_headers_are_401()
    {
        foreach (var header in new[] { "Basic dXNlcjpwYXNz", "Bearer", "Bearer " + new string('x', 600) })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/api/runs");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().SendAsync(request)).StatusCode);
        }
    }
}

public sealed class ExpiringKeyTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero));
    private readonly BatonFactory _factory;

    public ExpiringKeyTests() => _factory = new BatonFactory(_clock);

    [Fact]
    public async Task A_key_stops_working_when_it_expires()
    {
        var created = await _factory.Client().CreateKeyAsync(new CreateKeyRequest("temp", "viewer", _clock.GetUtcNow().AddHours(1)));
        var temp = _factory.Client(created.Token);
        Assert.NotNull(await temp.ListRunsAsync());
        _clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<BatonApiException>(() => temp.ListRunsAsync())).Status);
    }

    [Fact]
    public async Task An_open_event_stream_ends_when_its_key_is_revoked()
    {
        var created = await _factory.Client().CreateKeyAsync(new CreateKeyRequest("watcher", "viewer"));
        var watcher = _factory.Client(created.Token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var stream = watcher.StreamAllEventsAsync(lastEventId: 0, ct: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var run = await _factory.Client().CreateRunAsync(new CreateRunRequest("software_delivery", "x"));
        Assert.True(await stream.MoveNextAsync());

        await _factory.Client().RevokeKeyAsync(created.KeyId);
        _clock.Advance(TimeSpan.FromSeconds(16));
        await _factory.Client().CancelAsync(run.RunId);
        while (await stream.MoveNextAsync())
        {
            Assert.NotEqual("run.cancelled", stream.Current.Type);
        }
        Assert.False(timeout.IsCancellationRequested);
    }

    public void Dispose() => _factory.Dispose();
}
