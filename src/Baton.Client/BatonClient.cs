using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Baton.Client;

/// <summary>A typed client for the Baton API over an <see cref="HttpClient"/> whose BaseAddress is the server.</summary>
public sealed partial class BatonClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = BatonJson.Options;

    public HttpClient Http { get; } = http;

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

    public Task<RunDetail> CreateRunAsync(CreateRunRequest request, string? idempotencyKey = null, CancellationToken ct = default)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "api/runs") { Content = JsonContent.Create(request, options: Json) };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return SendAsync<RunDetail>(message, ct);
    }

    public Task<RunList> ListRunsAsync(string? status = null, string? profile = null, string? project = null, int? limit = null, int? offset = null, CancellationToken ct = default)
    {
        var query = new List<string>();
        Add("status", status);
        Add("profile", profile);
        Add("project", project);
        Add("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("offset", offset?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return GetAsync<RunList>("api/runs" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);

        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }
    }

    public Task<RunDetail> GetRunAsync(string runId, CancellationToken ct = default) => GetAsync<RunDetail>($"api/runs/{Escape(runId)}", ct);

    public Task<RunDetail> UpdateRunAsync(string runId, UpdateRunRequest request, CancellationToken ct = default) =>
        SendAsync<RunDetail>(new HttpRequestMessage(HttpMethod.Patch, $"api/runs/{Escape(runId)}") { Content = JsonContent.Create(request, options: Json) }, ct);

    // Run actions take the version of the run the decision was made on (RunDetail.Version): with it, the server
    // applies the action only if the run has not changed since, and answers 409 otherwise.

    public Task<RunDetail> NextAsync(string runId, bool skipValidation = false, long? expectedVersion = null, CancellationToken ct = default) =>
        PostAsync<RunDetail>($"api/runs/{Escape(runId)}/next", new NextRequest(skipValidation), ct, expectedVersion);

    public Task<RunDetail> ApproveAsync(string runId, string? comment = null, long? expectedVersion = null, CancellationToken ct = default) =>
        PostAsync<RunDetail>($"api/runs/{Escape(runId)}/approve", new ApproveRequest(comment), ct, expectedVersion);

    public Task<RunDetail> RejectAsync(string runId, string feedback, string? rejectTo = null, long? expectedVersion = null, CancellationToken ct = default) =>
        PostAsync<RunDetail>($"api/runs/{Escape(runId)}/reject", new RejectRequest(feedback, rejectTo), ct, expectedVersion);

    public Task<RunDetail> CancelAsync(string runId, string? reason = null, long? expectedVersion = null, CancellationToken ct = default) =>
        PostAsync<RunDetail>($"api/runs/{Escape(runId)}/cancel", new CancelRequest(reason), ct, expectedVersion);

    public Task<RunDetail> RetryAsync(string runId, long? expectedVersion = null, CancellationToken ct = default) =>
        PostAsync<RunDetail>($"api/runs/{Escape(runId)}/retry", null, ct, expectedVersion);

    public Task<ArtifactManifest> ListArtifactsAsync(string runId, CancellationToken ct = default) =>
        GetAsync<ArtifactManifest>($"api/runs/{Escape(runId)}/artifacts", ct);

    public async Task<string> GetArtifactAsync(string runId, string name, int? iteration = null, CancellationToken ct = default)
    {
        using var response = await Http.GetAsync($"api/runs/{Escape(runId)}/artifacts/{Escape(name)}" + (iteration is { } i ? $"?iteration={i}" : ""), ct);
        await EnsureSuccessAsync(response, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    public Task<RunMetrics> GetMetricsAsync(string runId, CancellationToken ct = default) => GetAsync<RunMetrics>($"api/runs/{Escape(runId)}/metrics", ct);

    public Task<RunLogs> GetLogsAsync(string runId, int lines = 50, CancellationToken ct = default) =>
        GetAsync<RunLogs>($"api/runs/{Escape(runId)}/logs?lines={lines}", ct);

    /// <summary>The run's events as they happen, from after <paramref name="lastEventId"/>; ends when the run has finished.</summary>
    public IAsyncEnumerable<RunEventInfo> StreamRunEventsAsync(string runId, long? lastEventId = null, CancellationToken ct = default) =>
        StreamAsync($"api/runs/{Escape(runId)}/events", lastEventId, ct);

    /// <summary>Every run's events as they happen; never ends by itself.</summary>
    public IAsyncEnumerable<RunEventInfo> StreamAllEventsAsync(long? lastEventId = null, CancellationToken ct = default) =>
        StreamAsync("api/events", lastEventId, ct);

    // Profiles

    public Task<ProfileList> ListProfilesAsync(CancellationToken ct = default) => GetAsync<ProfileList>("api/profiles", ct);

    public Task<ProfileDetail> GetProfileAsync(string name, CancellationToken ct = default) => GetAsync<ProfileDetail>($"api/profiles/{Escape(name)}", ct);

    // Keys

    public Task<CreatedKey> CreateKeyAsync(CreateKeyRequest request, CancellationToken ct = default) => PostAsync<CreatedKey>("api/keys", request, ct);

    public Task<KeyList> ListKeysAsync(CancellationToken ct = default) => GetAsync<KeyList>("api/keys", ct);

    public async Task RevokeKeyAsync(string keyId, CancellationToken ct = default)
    {
        using var response = await Http.DeleteAsync($"api/keys/{Escape(keyId)}", ct);
        await EnsureSuccessAsync(response, ct);
    }

    private async IAsyncEnumerable<RunEventInfo> StreamAsync(string path, long? lastEventId, [EnumeratorCancellation] CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await EnsureSuccessAsync(response, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    yield return JsonSerializer.Deserialize<RunEventInfo>(data.ToString(), Json)!;
                    data.Clear();
                }
                continue;
            }
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(line.AsSpan(5).TrimStart(' '));
            }
        }
    }

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, path), ct);

    private Task<T> PostAsync<T>(string path, object? body, CancellationToken ct, long? expectedVersion = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: Json) };
        if (expectedVersion is { } version)
        {
            request.Headers.TryAddWithoutValidation("If-Match", $"\"v{version}\"");
        }
        return SendAsync<T>(request, ct);
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken ct)
    {
        using (request)
        {
            using var response = await Http.SendAsync(request, ct);
            await EnsureSuccessAsync(response, ct);
            return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
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
                    errors[field.Name] = field.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToArray();
                }
            }
        }
        catch (JsonException)
        {
            // Not problem+json (a proxy's error page, say): the status line is all there is.
        }
        throw new BatonApiException(response.StatusCode, title, detail, errors, currentStatus);
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);
}
