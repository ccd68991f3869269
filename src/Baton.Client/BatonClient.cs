using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Baton.Client;

/// <summary>
/// A typed client for the Baton API over an <see cref="HttpClient"/> whose BaseAddress is the server. Errors come
/// back as <see cref="BatonApiException"/> (the problem+json, field errors included); idempotent requests are
/// tried again on transient failures as <see cref="Retry"/> says.
/// </summary>
public sealed partial class BatonClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = BatonJson.Options;

    public HttpClient Http { get; } = http;

    /// <summary>Retries of idempotent requests (GETs, and run creation with an Idempotency-Key).</summary>
    public RetryPolicy Retry { get; set; } = RetryPolicy.Default;

    public static BatonClient Create(Uri baseAddress, string? token)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return new BatonClient(http);
    }

    // Runs

    /// <summary>
    /// Starts a run. With an <paramref name="idempotencyKey"/> the server makes at most one run per key, so the
    /// request is safe to send again and is retried like a GET; without one it is sent once.
    /// </summary>
    public Task<RunDetail> CreateRunAsync(CreateRunRequest request, string? idempotencyKey = null, CancellationToken ct = default) =>
        SendAsync<RunDetail>(() =>
        {
            var message = Post("api/runs", request);
            if (idempotencyKey is not null)
            {
                message.Headers.Add("Idempotency-Key", idempotencyKey);
            }
            return message;
        }, idempotent: idempotencyKey is not null, ct);

    public Task<RunList> ListRunsAsync(string? status = null, string? profile = null, string? project = null, int? limit = null, int? offset = null, CancellationToken ct = default) =>
        GetAsync<RunList>("api/runs" + Query(("status", status), ("profile", profile), ("project", project), ("limit", Number(limit)), ("offset", Number(offset))), ct);

    /// <summary>Every run that matches, page after page (the list is newest first, so runs created meanwhile can shift pages).</summary>
    public async IAsyncEnumerable<RunSummary> ListAllRunsAsync(string? status = null, string? profile = null, string? project = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        const int page = 200;
        for (var offset = 0; ; offset += page)
        {
            var list = await ListRunsAsync(status, profile, project, page, offset, ct);
            foreach (var run in list.Runs)
            {
                yield return run;
            }
            if (list.Runs.Count < page || offset + list.Runs.Count >= list.Total)
            {
                yield break;
            }
        }
    }

    public Task<RunDetail> GetRunAsync(string runId, CancellationToken ct = default) => GetAsync<RunDetail>($"api/runs/{Escape(runId)}", ct);

    public Task<RunDetail> UpdateRunAsync(string runId, UpdateRunRequest request, CancellationToken ct = default) =>
        SendAsync<RunDetail>(() => new HttpRequestMessage(HttpMethod.Patch, $"api/runs/{Escape(runId)}") { Content = JsonContent.Create(request, options: Json) }, idempotent: false, ct);

    // Run actions take the version of the run the decision was made on (RunDetail.Version): with it, the server
    // applies the action only if the run has not changed since, and answers 409 otherwise. They are never retried:
    // a lost answer does not tell whether the decision was taken.

    public Task<RunDetail> NextAsync(string runId, bool skipValidation = false, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/next", new NextRequest(skipValidation), expectedVersion, ct);

    public Task<RunDetail> ApproveAsync(string runId, string? comment = null, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/approve", new ApproveRequest(comment), expectedVersion, ct);

    public Task<RunDetail> RejectAsync(string runId, string feedback, string? rejectTo = null, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/reject", new RejectRequest(feedback, rejectTo), expectedVersion, ct);

    /// <summary>An approval with a gate's digest and form values (`request.Inputs`).</summary>
    public Task<RunDetail> ApproveAsync(string runId, ApproveRequest request, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/approve", request, expectedVersion, ct);

    public Task<RunDetail> RejectAsync(string runId, RejectRequest request, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/reject", request, expectedVersion, ct);

    public Task<RunDetail> NextAsync(string runId, NextRequest request, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/next", request, expectedVersion, ct);

    public Task<RunDetail> CancelAsync(string runId, string? reason = null, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/cancel", new CancelRequest(reason), expectedVersion, ct);

    public Task<RunDetail> RetryAsync(string runId, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/retry", null, expectedVersion, ct);

    /// <summary>A retry from an earlier phase (`request.FromPhase`): the workspace goes back to that phase's base commit.</summary>
    public Task<RunDetail> RetryAsync(string runId, RetryRequest request, long? expectedVersion = null, CancellationToken ct = default) =>
        ActAsync($"api/runs/{Escape(runId)}/retry", request, expectedVersion, ct);

    /// <summary>
    /// A new run from one of this run's phases on (`request.AtPhase`). Like a create, sent once, unless an
    /// <paramref name="idempotencyKey"/> makes it safe to send again.
    /// </summary>
    public Task<RunDetail> ForkRunAsync(string runId, ForkRunRequest request, string? idempotencyKey = null, CancellationToken ct = default) =>
        SendAsync<RunDetail>(() =>
        {
            var message = Post($"api/runs/{Escape(runId)}/fork", request);
            if (idempotencyKey is not null)
            {
                message.Headers.Add("Idempotency-Key", idempotencyKey);
            }
            return message;
        }, idempotent: idempotencyKey is not null, ct);

    public Task<ArtifactManifest> ListArtifactsAsync(string runId, CancellationToken ct = default) =>
        GetAsync<ArtifactManifest>($"api/runs/{Escape(runId)}/artifacts", ct);

    /// <summary>An artifact's text: the newest iteration's, or <paramref name="iteration"/>'s.</summary>
    public async Task<string> GetArtifactAsync(string runId, string name, int? iteration = null, CancellationToken ct = default) =>
        Encoding.UTF8.GetString((await DownloadArtifactAsync(runId, name, iteration, ct)).Content);

    /// <summary>An artifact's bytes as stored, with the iteration they belong to.</summary>
    public async Task<ArtifactContent> DownloadArtifactAsync(string runId, string name, int? iteration = null, CancellationToken ct = default)
    {
        using var response = await SendAsync(
            () => new HttpRequestMessage(HttpMethod.Get, $"api/runs/{Escape(runId)}/artifacts/{Escape(name)}" + Query(("iteration", Number(iteration)))),
            idempotent: true, HttpCompletionOption.ResponseContentRead, ct);
        var content = await response.Content.ReadAsByteArrayAsync(ct);
        var served = response.Headers.TryGetValues("X-Baton-Iteration", out var values)
            && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : iteration ?? 0;
        return new ArtifactContent(name, served, response.Content.Headers.ContentType?.MediaType ?? "application/octet-stream", content);
    }

    public Task<RunMetrics> GetMetricsAsync(string runId, CancellationToken ct = default) => GetAsync<RunMetrics>($"api/runs/{Escape(runId)}/metrics", ct);

    public Task<RunLogs> GetLogsAsync(string runId, int lines = 50, CancellationToken ct = default) =>
        GetAsync<RunLogs>($"api/runs/{Escape(runId)}/logs?lines={Number(lines)}", ct);

    /// <summary>
    /// The run's events as they happen, from after <paramref name="lastEventId"/> (from its first event when null).
    /// Ends when the run has finished and every event was delivered, or when the server closes the stream (a
    /// revoked key); a dropped connection is resumed with Last-Event-ID, so no event is missed or repeated.
    /// </summary>
    public IAsyncEnumerable<RunEventInfo> StreamRunEventsAsync(string runId, long? lastEventId = null, CancellationToken ct = default) =>
        StreamAsync($"api/runs/{Escape(runId)}/events", lastEventId, ct);

    /// <summary>Every run's events as they happen, from now (or after <paramref name="lastEventId"/>; 0 replays all); ends only when the server closes it.</summary>
    public IAsyncEnumerable<RunEventInfo> StreamAllEventsAsync(long? lastEventId = null, CancellationToken ct = default) =>
        StreamAsync("api/events", lastEventId, ct);

    // Profiles

    public Task<ProfileList> ListProfilesAsync(CancellationToken ct = default) => GetAsync<ProfileList>("api/profiles", ct);

    public Task<ProfileDetail> GetProfileAsync(string name, CancellationToken ct = default) => GetAsync<ProfileDetail>($"api/profiles/{Escape(name)}", ct);

    // Keys

    public Task<CreatedKey> CreateKeyAsync(CreateKeyRequest request, CancellationToken ct = default) =>
        SendAsync<CreatedKey>(() => Post("api/keys", request), idempotent: false, ct);

    /// <summary>A one-time link that signs a browser in to the dashboard as this client's key.</summary>
    /// <remarks>
    /// The server builds the link from the request's Host and scheme, which behind a TLS proxy are not what people
    /// use; the link is rebased on the address this client reaches the server at.
    /// </remarks>
    public async Task<SignInLink> CreateSignInLinkAsync(CancellationToken ct = default)
    {
        var link = await SendAsync<SignInLink>(() => new HttpRequestMessage(HttpMethod.Post, "api/signin-links"), idempotent: false, ct);
        return Http.BaseAddress is { } server ? link with { Url = new Uri(server, new Uri(link.Url).PathAndQuery + new Uri(link.Url).Fragment).AbsoluteUri } : link;
    }

    /// <summary>The open gates and budget stops this key may decide now, oldest first.</summary>
    public Task<Inbox> GetInboxAsync(CancellationToken ct = default) => GetAsync<Inbox>("api/inbox", ct);

    public Task<KeyList> ListKeysAsync(CancellationToken ct = default) => GetAsync<KeyList>("api/keys", ct);

    /// <summary>Retention now (admin): deletes the events, logs and artifacts of finished runs older than <paramref name="olderThan"/> (<c>30d</c>).</summary>
    public Task<GcResult> GcAsync(string olderThan, CancellationToken ct = default) =>
        SendAsync<GcResult>(() => Post("api/gc", new GcRequest(olderThan)), idempotent: true, ct);

    /// <summary>A page of the audit log (admin), newest first, filtered by key, action (<c>METHOD route</c>) or run.</summary>
    public Task<AuditPage> ListAuditAsync(string? keyId = null, string? action = null, string? runId = null, long? before = null, int limit = 50, CancellationToken ct = default)
    {
        var query = new List<string> { $"limit={limit}" };
        foreach (var (name, value) in new[] { ("key", keyId), ("action", action), ("run", runId), ("before", before?.ToString(System.Globalization.CultureInfo.InvariantCulture)) })
        {
            if (value is not null)
            {
                query.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }
        return GetAsync<AuditPage>("api/audit?" + string.Join('&', query), ct);
    }

    /// <summary>Revokes a key at once. Not retried: a repeat after a lost answer would be a 409 "already revoked".</summary>
    public async Task RevokeKeyAsync(string keyId, CancellationToken ct = default)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"api/keys/{Escape(keyId)}"), idempotent: false, HttpCompletionOption.ResponseContentRead, ct);
    }

    // Operations

    public Task<Health> GetHealthAsync(CancellationToken ct = default) => GetAsync<Health>("healthz", ct);

    /// <summary>Readiness; a 503 (database unreachable) is an answer here, not an error, and is not retried.</summary>
    public async Task<Readiness> GetReadinessAsync(CancellationToken ct = default)
    {
        using var response = await Http.GetAsync("readyz", ct);
        if (response.StatusCode is not HttpStatusCode.ServiceUnavailable)
        {
            await EnsureSuccessAsync(response, ct);
        }
        return (await response.Content.ReadFromJsonAsync<Readiness>(Json, ct))!;
    }

    /// <summary>The Prometheus text of GET /metrics.</summary>
    public async Task<string> GetPrometheusMetricsAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "metrics"), idempotent: true, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private async IAsyncEnumerable<RunEventInfo> StreamAsync(string path, long? lastEventId, [EnumeratorCancellation] CancellationToken ct)
    {
        var last = lastEventId;
        var failures = 0;
        while (true)
        {
            using var response = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                if (last is { } id)
                {
                    request.Headers.Add("Last-Event-ID", id.ToString(CultureInfo.InvariantCulture));
                }
                return request;
            }, idempotent: true, HttpCompletionOption.ResponseHeadersRead, ct);
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            // Comments (the server's keep-alives) are skipped by the parser; every event the server sends has data.
            await using var events = SseParser.Create(stream, (_, data) => JsonSerializer.Deserialize<RunEventInfo>(data, Json)!)
                .EnumerateAsync(ct).GetAsyncEnumerator(ct);
            while (true)
            {
                Exception? broken = null;
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        // The server ended the stream: the run or execution has finished for good.
                        yield break;
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
                {
                    broken = e;
                }
                if (broken is null)
                {
                    last = events.Current.Data.Seq;
                    failures = 0;
                    yield return events.Current.Data;
                    continue;
                }
                // The connection dropped (a server restart, a proxy): resume after the last event seen.
                if (++failures >= Retry.MaxAttempts)
                {
                    throw broken;
                }
                await Task.Delay(Retry.DelayAfter(failures, null) ?? TimeSpan.Zero, ct);
                break;
            }
        }
    }

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(() => new HttpRequestMessage(HttpMethod.Get, path), idempotent: true, ct);

    private Task<RunDetail> ActAsync(string path, object? body, long? expectedVersion, CancellationToken ct) =>
        SendAsync<RunDetail>(() =>
        {
            var request = Post(path, body);
            if (expectedVersion is { } version)
            {
                request.Headers.TryAddWithoutValidation("If-Match", $"\"v{version}\"");
            }
            return request;
        }, idempotent: false, ct);

    private static HttpRequestMessage Post(string path, object? body) =>
        new(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: Json) };

    private async Task<T> SendAsync<T>(Func<HttpRequestMessage> request, bool idempotent, CancellationToken ct)
    {
        using var response = await SendAsync(request, idempotent, HttpCompletionOption.ResponseContentRead, ct);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
    }

    /// <summary>
    /// Sends a fresh request from <paramref name="request"/> per attempt (a sent HttpRequestMessage cannot be sent
    /// again) and returns the successful response; retries only when <paramref name="idempotent"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, bool idempotent, HttpCompletionOption completion, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var mayRetry = idempotent && attempt < Retry.MaxAttempts;
            HttpResponseMessage response;
            try
            {
                response = await Http.SendAsync(request(), completion, ct);
            }
            catch (HttpRequestException e) when (mayRetry && RetryPolicy.IsTransient(e))
            {
                await Task.Delay(Retry.DelayAfter(attempt, null) ?? TimeSpan.Zero, ct);
                continue;
            }
            if (response.IsSuccessStatusCode)
            {
                return response;
            }
            var delay = mayRetry && RetryPolicy.IsTransient(response.StatusCode)
                ? Retry.DelayAfter(attempt, RetryPolicy.RetryAfter(response.Headers.RetryAfter, DateTimeOffset.UtcNow))
                : null;
            if (delay is null)
            {
                using (response)
                {
                    await EnsureSuccessAsync(response, ct);
                }
            }
            response.Dispose();
            await Task.Delay(delay!.Value, ct);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        var title = response.ReasonPhrase ?? response.StatusCode.ToString();
        string? detail = null;
        string? currentStatus = null;
        var errors = new Dictionary<string, string[]>();
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = doc.RootElement;
            title = root.TryGetProperty("title", out var t) ? t.GetString() ?? title : title;
            detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
            currentStatus = root.TryGetProperty("current_status", out var s) ? s.GetString() : null;
            if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in e.EnumerateObject())
                {
                    errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? field.Value.EnumerateArray().Select(v => v.ToString()).ToArray()
                        : [field.Value.ToString()];
                }
            }
        }
        catch (JsonException)
        {
            // Not problem+json (a proxy's error page, say): the status line is all there is.
        }
        catch (InvalidOperationException)
        {
            // A JSON body of another shape (an array, a string): the status line is all there is.
        }
        throw new BatonApiException(response.StatusCode, title, detail, errors, currentStatus)
        {
            RetryAfter = RetryPolicy.RetryAfter(response.Headers.RetryAfter, DateTimeOffset.UtcNow),
        };
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static string? Number(int? value) => value?.ToString(CultureInfo.InvariantCulture);

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? "" : "?" + string.Join('&', given);
    }
}
