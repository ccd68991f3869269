using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

/// <summary>
/// Event streams hold a connection and a loop each: how many one key and the whole server may hold is bounded, and a
/// revoked key's streams end when the revocation commits, on the real clock.
/// </summary>
public sealed class StreamLimitsTests : IDisposable
{
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string>
    {
        ["straight"] = TestProfiles.Straight,
        ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    })
    {
        Settings = { ["BATON_MAX_STREAMS_PER_KEY"] = "2", ["BATON_MAX_STREAMS"] = "3" },
    };

    /// <summary>Generous: revocation ends a stream in milliseconds; before, it took up to 15 s.</summary>
    private static readonly TimeSpan Ends = TimeSpan.FromSeconds(5);

    private async Task<(string KeyId, string Token)> KeyAsync(string name, string role = "viewer")
    {
        var created = await _factory.Client().CreateKeyAsync(new CreateKeyRequest(name, role));
        return (created.KeyId, created.Token);
    }

    /// <summary>A raw stream request: its status and headers arrive as soon as the server accepts or refuses it.</summary>
    private async Task<HttpResponseMessage> OpenAsync(string token, string path = "/api/events")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return await _factory.Http(token: null).SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task Streams_over_the_per_key_or_total_limit_are_429_with_retry_after()
    {
        var (_, a) = await KeyAsync("a");
        var (_, b) = await KeyAsync("b");
        var (_, c) = await KeyAsync("c");
        // A run that waits at its gate: a finished run's stream ends, and its place would go to the next stream.
        var run = await _factory.Client().CreateRunAsync(new CreateRunRequest("gated", "x"));
        using var a1 = await OpenAsync(a);
        using var a2 = await OpenAsync(a, $"/api/runs/{run.RunId}/events?last_event_id=999999");
        Assert.Equal(HttpStatusCode.OK, a1.StatusCode);
        Assert.Equal(HttpStatusCode.OK, a2.StatusCode);

        using var a3 = await OpenAsync(a);
        await AssertRefusedAsync(a3, "per key");

        using var b1 = await OpenAsync(b);
        Assert.Equal(HttpStatusCode.OK, b1.StatusCode);
        using var c1 = await OpenAsync(c);
        await AssertRefusedAsync(c1, "on this server");
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string which)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a Retry-After in seconds");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(which, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_keys_open_stream_ends_at_once_and_sends_nothing_more()
    {
        var (keyId, token) = await KeyAsync("watcher");
        var admin = _factory.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var stream = _factory.Client(token).StreamAllEventsAsync(lastEventId: 0, ct: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = await admin.CreateRunAsync(new CreateRunRequest("straight", "before"));
        Assert.True(await stream.MoveNextAsync());

        await admin.RevokeKeyAsync(keyId);
        var later = await admin.CreateRunAsync(new CreateRunRequest("straight", "after"));
        var drained = DrainAsync(stream);
        Assert.Same(drained, await Task.WhenAny(drained, Task.Delay(Ends, timeout.Token)));
        Assert.DoesNotContain(later.RunId, await drained);
        Assert.NotEqual(first.RunId, later.RunId);
    }

    private static async Task<List<string>> DrainAsync(IAsyncEnumerator<RunEventInfo> stream)
    {
        var runs = new List<string>();
        while (await stream.MoveNextAsync())
        {
            runs.Add(stream.Current.RunId);
        }
        return runs;
    }

    public void Dispose() => _factory.Dispose();
}

/// <summary>One event with many streams open: the node reads it once and hands it to every stream.</summary>
public sealed class StreamFanOutTests : IDisposable
{
    private const int Streams = 40;

    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string> { ["stepwise"] = TestProfiles.Manual })
    {
        Settings = { ["BATON_MAX_STREAMS_PER_KEY"] = "64" },
    };

    [Fact]
    public async Task Open_streams_do_not_each_query_the_database_per_event()
    {
        var admin = _factory.Client();
        var run = await admin.CreateRunAsync(new CreateRunRequest("stepwise", "x"));
        await admin.WaitForStatusAsync(run.RunId, "paused");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await RenameAsync(run.RunId, "one");
        var streams = new List<IAsyncEnumerator<RunEventInfo>>();
        for (var i = 0; i < Streams; i++)
        {
            streams.Add(admin.StreamAllEventsAsync(lastEventId: 0, ct: timeout.Token).GetAsyncEnumerator(timeout.Token));
        }
        // Each stream replays the history up to that first event: then it is open and waiting for the next.
        await Task.WhenAll(streams.Select(async s =>
        {
            while (await s.MoveNextAsync() && s.Current.Type != "run.updated")
            {
            }
        }));

        var db = _factory.Service<Baton.Storage.Database>();
        var before = db.Reads;
        await RenameAsync(run.RunId, "two");
        Assert.All(await Task.WhenAll(streams.Select(s => s.MoveNextAsync().AsTask())), Assert.True);
        var reads = db.Reads - before;
        Assert.All(streams, s => Assert.Equal("run.updated", s.Current.Type));

        // Each stream used to read every event itself (40 reads and more); now the node reads it once for all of them.
        Assert.True(reads < Streams / 2, $"{reads} database reads for one event with {Streams} streams open");
        foreach (var s in streams)
        {
            await s.DisposeAsync();
        }
    }

    private async Task RenameAsync(string runId, string name)
    {
        using var patch = await _factory.Http().PatchAsJsonAsync($"/api/runs/{runId}", new { project_name = name });
        Assert.True(patch.IsSuccessStatusCode);
    }

    public void Dispose() => _factory.Dispose();
}
