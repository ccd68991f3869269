using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Baton.Bench;

/// <summary>What one kind of request of the load harness did in the measured window.</summary>
internal sealed record LoadKindResult(string Kind, string Example, long Requests, long Errors, Distribution Latency);

internal sealed record LoadResult(
    int SeedRuns, double SeedSeconds, long DatabaseBytesBefore, long DatabaseBytesAfter, int Clients, int Subscribers, int? Rate,
    TimeSpan Warmup, TimeSpan Window, IReadOnlyList<LoadKindResult> Kinds, Distribution All, long Requests, long Errors,
    IReadOnlyList<string> ErrorSamples, double ServerCpuSeconds, double ClientCpuSeconds, long PeakRssBytes,
    long SubscriberEvents, int SubscriberErrors, string LoadAverage, IReadOnlyList<LoadGroupCost> Breakdown);

/// <summary>What one group of requests costs the server when the clients send only those: where the mix's CPU goes.</summary>
internal sealed record LoadGroupCost(string Group, string Kinds, long Requests, double Seconds, double ServerCpuSeconds);

/// <summary>
/// Issue 14's load harness: the server as a process of its own with its shipped defaults (rate limit included) over a
/// database seeded with many runs, hit by many concurrent clients, each with its own approver key, for a fixed time:
/// run lists (first page, filtered, later pages), a seeded run's detail, and the writes an operator makes (create a run
/// of a one-phase gated profile, read it, approve or cancel it at its gate), while SSE subscribers, each with a viewer
/// key, follow every event on /api/events. Each client sends its next request when the last one is answered (a closed
/// loop), so the rate is what the server sustains at this concurrency; or, with a rate, at its share of that rate
/// (an open loop), and a request's latency counts from when it was due, so a server that falls behind is not excused
/// by the clients waiting for it. Any answer but the expected one is an error.
/// </summary>
internal static class LoadBench
{
    /// <summary>One template phase and a gate after it: a create costs the engine one phase, an approval finishes the run.</summary>
    public const string ReviewProfile = "bench_review";

    private static readonly string ReviewYaml = $"""
        name: {ReviewProfile}
        description: Load harness profile; one template phase, then a gate.
        mode: auto
        phases:
          - name: draft
            worker: template
            prompt: Write the draft.
            produces: [draft.md]
            gate:
              required: true

        """;

    private enum Kind { ListFirstPage, ListFiltered, ListLaterPage, GetSeededRun, GetOwnRun, CreateRun, ApproveRun, CancelRun }

    /// <summary>Shares of the mix, in percent: mostly reads, as dashboards and CLIs poll; about one request in eight writes.</summary>
    private static readonly (Kind Kind, int Weight, string Example)[] Mix =
    [
        (Kind.ListFirstPage, 20, "GET /api/runs?limit=50"),
        (Kind.ListFiltered, 25, "GET /api/runs?status=…|profile=…|project=… (and two together)"),
        (Kind.ListLaterPage, 5, "GET /api/runs?offset=50…1000"),
        (Kind.GetSeededRun, 25, "GET /api/runs/{id} of a seeded run"),
        (Kind.GetOwnRun, 13, "GET /api/runs/{id} of a run the client created"),
        (Kind.CreateRun, 6, $"POST /api/runs ({ReviewProfile})"),
        (Kind.ApproveRun, 4, "POST /api/runs/{id}/approve at its gate"),
        (Kind.CancelRun, 2, "POST /api/runs/{id}/cancel at its gate"),
    ];

    /// <summary>
    /// The mix's parts, each sent alone after the measured window (a closed loop only) to see what each costs the server:
    /// the lists, the run details, and the write path as a user drives it (create, read the run until its gate, decide).
    /// </summary>
    private static readonly (string Name, Kind[] Kinds)[] Groups =
    [
        ("lists", [Kind.ListFirstPage, Kind.ListFiltered, Kind.ListLaterPage]),
        ("run details", [Kind.GetSeededRun]),
        ("writes (with reads of the client's own runs)", [Kind.CreateRun, Kind.ApproveRun, Kind.CancelRun, Kind.GetOwnRun]),
    ];

    private static readonly TimeSpan GroupSettle = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan GroupWindow = TimeSpan.FromSeconds(15);

    private static readonly string[] FilteredQueries =
    [
        $"status={RunListBench.RareStatus}",
        $"profile={RunListBench.MinorProfile}",
        $"project={RunListBench.OneProject}",
        "status=failed&profile=software_delivery",
        $"project=project-11&status=completed",
    ];

    private static readonly int[] LaterOffsets = [50, 100, 250, 500, 1000];

    public static async Task<LoadResult> RunAsync(BenchOptions options, Action<string> progress)
    {
        var dataDir = BenchServer.NewDataDir(options.DataRoot);
        await File.WriteAllTextAsync(Path.Combine(dataDir, "profiles", ReviewProfile + ".yaml"), ReviewYaml);
        var databasePath = Path.Combine(dataDir, "baton.db");
        var seedClock = Stopwatch.StartNew();
        progress($"load: seeding {options.LoadSeedRuns} runs");
        string[] seededIds;
        try
        {
            var cached = options.LoadSeedCache is { } cache ? Path.Combine(cache, $"seed-{options.LoadSeedRuns}-{options.IntakeBytes}.db") : null;
            if (cached is not null && File.Exists(cached))
            {
                File.Copy(cached, databasePath);
            }
            else
            {
                await RunListBench.SeedAsync(dataDir, databasePath, options.LoadSeedRuns, options.IntakeBytes);
                if (cached is not null)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
                    // All of it in the file itself, so that the copy needs no WAL.
                    await using (var c = new SqliteConnection($"Data Source={databasePath};Pooling=False"))
                    {
                        await c.OpenAsync();
                        using var checkpoint = c.CreateCommand();
                        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
                        await checkpoint.ExecuteNonQueryAsync();
                    }
                    File.Copy(databasePath, cached + ".part", overwrite: true);
                    File.Move(cached + ".part", cached, overwrite: true);
                }
            }
            seededIds = await SampleIdsAsync(databasePath, 20_000);
        }
        catch
        {
            BenchServer.DeleteDataDir(dataDir);
            throw;
        }
        var seedSeconds = seedClock.Elapsed.TotalSeconds;
        var bytesBefore = new FileInfo(databasePath).Length;

        // Shipped defaults, and the rate limit on as shipped (ServerProcess turns it off for the one-key benches):
        // each client has its own key, and none of them should come near it.
        await using var server = await ServerProcess.StartAsync(dataDir, settings: new Dictionary<string, string> { ["BATON_RATE_LIMIT"] = "100" }, name: "load");
        progress($"load: {options.LoadClients} clients and {options.LoadSubscribers} SSE subscribers, each with a key of its own");
        var clientKeys = await CreateKeysAsync(server, "approver", options.LoadClients);
        var subscriberKeys = await CreateKeysAsync(server, "viewer", options.LoadSubscribers);

        var recorder = new Recorder();
        using var stop = new CancellationTokenSource();
        var baseAddress = server.Client.Http.BaseAddress!;
        var subscribers = subscriberKeys.Select(key => new Subscriber(Http(baseAddress, key, Timeout.InfiniteTimeSpan))).ToList();
        var subscriberTasks = subscribers.Select(s => s.FollowAsync(stop.Token)).ToList();
        TimeSpan? interval = options.LoadRate is { } rate ? TimeSpan.FromSeconds((double)options.LoadClients / rate) : null;
        var mix = new MixSelector();
        var clients = clientKeys.Select((key, i) => new LoadClient(Http(baseAddress, key, TimeSpan.FromSeconds(30)), seededIds, recorder, mix, seed: i, interval)).ToList();
        var clientTasks = clients.Select(c => Task.Run(() => c.LoopAsync(stop.Token))).ToList();

        progress($"load: warm-up {options.LoadWarmup.TotalSeconds:0} s (not measured)");
        await Task.Delay(options.LoadWarmup);
        var serverCpu = server.CpuTime();
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var window = Stopwatch.StartNew();
        recorder.Start();
        progress($"load: measuring {options.LoadDuration.TotalSeconds:0} s");
        await Task.Delay(options.LoadDuration);
        recorder.Stop();
        var elapsed = window.Elapsed;
        var serverCpuSeconds = (server.CpuTime() - serverCpu).TotalSeconds;
        var clientCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds;
        var loadAverage = Machine.LoadAverageNow();
        var breakdown = new List<LoadGroupCost>();
        if (interval is null)
        {
            foreach (var (name, groupKinds) in Groups)
            {
                progress($"load: only {name} for {GroupWindow.TotalSeconds:0} s, to see what they cost");
                mix.Only(groupKinds);
                await Task.Delay(GroupSettle);
                var cpuBefore = server.CpuTime();
                var requestsBefore = mix.Sent;
                var clock = Stopwatch.StartNew();
                await Task.Delay(GroupWindow);
                breakdown.Add(new LoadGroupCost(name, string.Join(", ", groupKinds.Select(Name)), mix.Sent - requestsBefore, clock.Elapsed.TotalSeconds,
                    (server.CpuTime() - cpuBefore).TotalSeconds));
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(clientTasks);
        await Task.WhenAll(subscriberTasks);
        var peakRss = server.PeakRssBytes();
        foreach (var client in clients)
        {
            client.Dispose();
        }
        foreach (var subscriber in subscribers)
        {
            subscriber.Dispose();
        }
        await server.StopAsync();
        var bytesAfter = new FileInfo(databasePath).Length;

        var kinds = Mix.Select(m => new LoadKindResult(Name(m.Kind), m.Example, recorder.Count(m.Kind), recorder.Errors(m.Kind), Distribution.Of(recorder.Latencies(m.Kind)))).ToList();
        return new LoadResult(options.LoadSeedRuns, seedSeconds, bytesBefore, bytesAfter, options.LoadClients, options.LoadSubscribers, options.LoadRate,
            options.LoadWarmup, elapsed, kinds, Distribution.Of(Mix.SelectMany(m => recorder.Latencies(m.Kind))),
            kinds.Sum(k => k.Requests), kinds.Sum(k => k.Errors), recorder.ErrorSamples(), serverCpuSeconds, clientCpuSeconds,
            peakRss, subscribers.Sum(s => s.Events), subscribers.Sum(s => s.Errors), loadAverage, breakdown);
    }

    private static string Name(Kind kind) => kind switch
    {
        Kind.ListFirstPage => "list, first page",
        Kind.ListFiltered => "list, filtered",
        Kind.ListLaterPage => "list, later page",
        Kind.GetSeededRun => "run detail, seeded run",
        Kind.GetOwnRun => "run detail, own run",
        Kind.CreateRun => "create run",
        Kind.ApproveRun => "approve at gate",
        Kind.CancelRun => "cancel at gate",
        _ => kind.ToString(),
    };

    private static HttpClient Http(Uri baseAddress, string token, TimeSpan timeout)
    {
        // One connection per client, as 200 separate programs would have.
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseAddress,
            Timeout = timeout,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<List<string>> CreateKeysAsync(ServerProcess server, string role, int count)
    {
        var tokens = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var key = await server.Client.CreateKeyAsync(new Client.CreateKeyRequest($"load-{role}-{i:000}", role));
            tokens.Add(key.Token);
        }
        return tokens;
    }

    private static async Task<string[]> SampleIdsAsync(string databasePath, int count)
    {
        await using var c = new SqliteConnection($"Data Source={databasePath}");
        await c.OpenAsync();
        using var select = c.CreateCommand();
        select.CommandText = "SELECT id FROM runs ORDER BY random() LIMIT $count";
        select.Parameters.AddWithValue("$count", count);
        var ids = new List<string>(count);
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }
        return [.. ids];
    }

    /// <summary>The kinds the clients choose from, with the mix's weights; and how many requests they have sent.</summary>
    private sealed class MixSelector
    {
        private volatile (Kind Kind, int Weight, string Example)[] _kinds = Mix;
        private long _sent;

        public long Sent => Interlocked.Read(ref _sent);

        public void Only(Kind[] kinds) => _kinds = [.. Mix.Where(m => kinds.Contains(m.Kind))];

        public Kind Next(Random random)
        {
            var kinds = _kinds;
            var roll = random.Next(kinds.Sum(m => m.Weight));
            Interlocked.Increment(ref _sent);
            return kinds.First(m => (roll -= m.Weight) < 0).Kind;
        }
    }

    /// <summary>Latencies and errors per kind, kept only while the window is open.</summary>
    private sealed class Recorder
    {
        private readonly ConcurrentDictionary<Kind, ConcurrentBag<double>> _latencies = new();
        private readonly ConcurrentDictionary<Kind, long> _errors = new();
        private readonly ConcurrentQueue<string> _samples = new();
        private volatile bool _open;

        public void Start() => _open = true;

        public void Stop() => _open = false;

        public void Record(Kind kind, long startedAt, string? error)
        {
            if (!_open)
            {
                return;
            }
            _latencies.GetOrAdd(kind, _ => []).Add(Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds);
            if (error is not null)
            {
                _errors.AddOrUpdate(kind, 1, (_, n) => n + 1);
                if (_samples.Count < 20)
                {
                    _samples.Enqueue($"{Name(kind)}: {error}");
                }
            }
        }

        public long Count(Kind kind) => _latencies.TryGetValue(kind, out var l) ? l.Count : 0;

        public long Errors(Kind kind) => _errors.GetValueOrDefault(kind);

        public IEnumerable<double> Latencies(Kind kind) => _latencies.TryGetValue(kind, out var l) ? l : [];

        public IReadOnlyList<string> ErrorSamples() => [.. _samples];
    }

    /// <summary>One client in a closed loop: a request, its answer read in full, the next request.</summary>
    private sealed class LoadClient(HttpClient http, string[] seededIds, Recorder recorder, MixSelector mix, int seed, TimeSpan? interval) : IDisposable
    {
        private readonly Random _random = new(seed);

        /// <summary>With a rate: when the request being sent was due, which its latency counts from.</summary>
        private long? _due;
        private readonly List<string> _created = [];
        private readonly HashSet<string> _atGate = [];
        private int _createdCount;

        public async Task LoopAsync(CancellationToken stop)
        {
            // Paced clients start spread over one interval, so that the offered load is even from the start.
            var next = Stopwatch.GetTimestamp() + (long)((interval?.TotalSeconds ?? 0) * _random.NextDouble() * Stopwatch.Frequency);
            while (!stop.IsCancellationRequested)
            {
                var kind = mix.Next(_random);
                try
                {
                    if (interval is { } pace)
                    {
                        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                        if (wait > TimeSpan.Zero)
                        {
                            await Task.Delay(wait, stop);
                        }
                        _due = next;
                        next += (long)(pace.TotalSeconds * Stopwatch.Frequency);
                    }
                    await SendAsync(kind, stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        private Task SendAsync(Kind kind, CancellationToken ct) => kind switch
        {
            Kind.ListFirstPage => GetAsync(kind, "api/runs?limit=50", ct),
            Kind.ListFiltered => GetAsync(kind, $"api/runs?{FilteredQueries[_random.Next(FilteredQueries.Length)]}&limit=50", ct),
            Kind.ListLaterPage => GetAsync(kind, $"api/runs?limit=50&offset={LaterOffsets[_random.Next(LaterOffsets.Length)]}", ct),
            Kind.GetSeededRun => GetAsync(kind, $"api/runs/{seededIds[_random.Next(seededIds.Length)]}", ct),
            Kind.GetOwnRun when _created.Count > 0 => GetOwnAsync(ct),
            Kind.CreateRun => CreateAsync(ct),
            Kind.ApproveRun or Kind.CancelRun when _atGate.Count > 0 => DecideAsync(kind, ct),
            // None of its runs at its gate yet: the client looks at one, as a user waits for the run they started. (Creating
            // one instead made a server whose engine fell behind get ever more creates and no decisions: not the mix.)
            Kind.ApproveRun or Kind.CancelRun when _created.Count > 0 => GetOwnAsync(ct),
            // Nothing of its own yet to read or decide: the client creates a run instead.
            _ => CreateAsync(ct),
        };

        private async Task GetAsync(Kind kind, string path, CancellationToken ct)
        {
            var start = _due ?? Stopwatch.GetTimestamp();
            var (status, body) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path), ct);
            recorder.Record(kind, start, status == HttpStatusCode.OK ? null : Describe(status, body));
        }

        private async Task GetOwnAsync(CancellationToken ct)
        {
            var id = _created[_random.Next(_created.Count)];
            var start = _due ?? Stopwatch.GetTimestamp();
            var (status, body) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"api/runs/{id}"), ct);
            recorder.Record(Kind.GetOwnRun, start, status == HttpStatusCode.OK ? null : Describe(status, body));
            if (status == HttpStatusCode.OK && StatusOf(body) == "awaiting_approval")
            {
                _atGate.Add(id);
            }
        }

        private async Task CreateAsync(CancellationToken ct)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "api/runs")
            {
                Content = Json(new { profile = ReviewProfile, intake = TransitionsBench.Intake(_createdCount++, 900), project_name = "load" }),
            };
            var start = _due ?? Stopwatch.GetTimestamp();
            var (status, body) = await SendAsync(request, ct);
            recorder.Record(Kind.CreateRun, start, status == HttpStatusCode.Created ? null : Describe(status, body));
            if (status == HttpStatusCode.Created)
            {
                using var json = JsonDocument.Parse(body);
                var id = json.RootElement.GetProperty("run_id").GetString()!;
                // The newest runs are the ones read most, as a user watches the run they just started.
                _created.Add(id);
                if (_created.Count > 50)
                {
                    _created.RemoveAt(0);
                }
            }
        }

        private async Task DecideAsync(Kind kind, CancellationToken ct)
        {
            var id = _atGate.First();
            _atGate.Remove(id);
            var request = new HttpRequestMessage(HttpMethod.Post, $"api/runs/{id}/{(kind == Kind.ApproveRun ? "approve" : "cancel")}")
            {
                Content = Json(kind == Kind.ApproveRun ? new { comment = "load" } : new { reason = "load" }),
            };
            var start = _due ?? Stopwatch.GetTimestamp();
            var (status, body) = await SendAsync(request, ct);
            recorder.Record(kind, start, status == HttpStatusCode.OK ? null : Describe(status, body));
            _created.Remove(id);
        }

        private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            try
            {
                using var response = await http.SendAsync(request, ct);
                return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
            }
            catch (HttpRequestException ex)
            {
                return (0, ex.Message);
            }
            catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
            {
                return (0, "timed out: " + ex.Message);
            }
            finally
            {
                request.Dispose();
            }
        }

        private static string? StatusOf(string body)
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("status").GetString();
        }

        private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

        private static string Describe(HttpStatusCode status, string body) =>
            $"{(int)status} {(body.Length > 200 ? body[..200] + "…" : body)}";

        public void Dispose() => http.Dispose();
    }

    /// <summary>An SSE subscriber on /api/events: counts the events it is sent, reconnects with Last-Event-ID if cut off.</summary>
    private sealed class Subscriber(HttpClient http) : IDisposable
    {
        public long Events { get; private set; }

        public int Errors { get; private set; }

        public async Task FollowAsync(CancellationToken stop)
        {
            string? lastId = null;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "api/events");
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                    if (lastId is not null)
                    {
                        request.Headers.Add("Last-Event-ID", lastId);
                    }
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Errors++;
                        Console.Error.WriteLine($"  load: a subscriber got {(int)response.StatusCode}");
                        await Task.Delay(1000, stop);
                        continue;
                    }
                    // Counted, not read: the bench's client shares the machine's cores with the server.
                    await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(stop), static (_, _) => 0).EnumerateAsync(stop))
                    {
                        lastId = item.EventId;
                        Events++;
                    }
                    // The server ended an /api/events stream that should stay open: an error, then resume.
                    Errors++;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException ex)
                {
                    Errors++;
                    Console.Error.WriteLine($"  load: a subscriber's stream broke: {ex.Message}");
                }
                catch (IOException ex)
                {
                    Errors++;
                    Console.Error.WriteLine($"  load: a subscriber's stream broke: {ex.Message}");
                }
            }
        }

        public void Dispose() => http.Dispose();
    }

    public static string Markdown(LoadResult r, Machine machine, BenchOptions o)
    {
        var md = new StringBuilder();
        var seconds = r.Window.TotalSeconds;
        var rate = r.Requests / seconds;
        var serverCores = r.ServerCpuSeconds / seconds;
        md.AppendLine(Inv($"Machine: {machine.Cpu}, {machine.Cores} cores, {machine.Memory}, {machine.Os}, {machine.Runtime}; load average at the end {r.LoadAverage}."));
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(Inv($"dotnet run -c Release --project bench/Baton.Bench -- --only load --load-seed-runs {r.SeedRuns} --load-clients {r.Clients} --load-subscribers {r.Subscribers} --load-seconds {seconds:0}{(r.Rate is { } offeredRate ? $" --load-rate {offeredRate}" : "")}"));
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(Inv($"{r.SeedRuns:N0} runs seeded in {r.SeedSeconds:0.0} s ({r.DatabaseBytesBefore / 1048576.0:0} MiB of SQLite, {o.IntakeBytes}-byte intakes); the server a process of its own (`dotnet Baton.Server.dll`, shipped defaults, BATON_RATE_LIMIT 100 per key); {r.Clients} clients {(r.Rate is { } offered ? $"offering {offered} requests/s between them (an open loop; latency counts from when each request was due)" : "in a closed loop")}, each with its own approver key and connection, and {r.Subscribers} SSE subscribers on `/api/events`, each with a viewer key; {r.Warmup.TotalSeconds:0} s of warm-up, then {seconds:0.0} s measured. Latency is the client's, request sent to body read, over loopback."));
        md.AppendLine();
        md.AppendLine("| request | example | share | requests | errors | req/s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var k in r.Kinds)
        {
            md.AppendLine(Inv($"| {k.Kind} | `{k.Example}` | {100.0 * k.Requests / Math.Max(1, r.Requests):0.0}% | {k.Requests} | {k.Errors} | {k.Requests / seconds:0} | {k.Latency.P50:0.00} | {k.Latency.P95:0.00} | {k.Latency.P99:0.00} | {k.Latency.Max:0.0} |"));
        }
        md.AppendLine(Inv($"| **all** | | 100% | {r.Requests} | {r.Errors} | {rate:0} | {r.All.P50:0.00} | {r.All.P95:0.00} | {r.All.P99:0.00} | {r.All.Max:0.0} |"));
        md.AppendLine();
        md.AppendLine(Inv($"Server CPU {r.ServerCpuSeconds:0.0} s in the window ({serverCores:0.00} cores busy on average), the bench's client {r.ClientCpuSeconds:0.0} s ({r.ClientCpuSeconds / seconds:0.00} cores) on the same two cores; server peak RSS {r.PeakRssBytes / 1048576.0:0} MiB; database {r.DatabaseBytesBefore / 1048576.0:0} → {r.DatabaseBytesAfter / 1048576.0:0} MiB. SSE: {r.SubscriberEvents} events received by the subscribers, {r.SubscriberErrors} broken or refused streams."));
        if (r.ErrorSamples.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Errors (first few):");
            foreach (var e in r.ErrorSamples)
            {
                md.AppendLine($"- {e}");
            }
        }
        if (r.Breakdown.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(Inv($"Then each part of the mix alone, the same {r.Clients} clients and {r.Subscribers} subscribers, {GroupWindow.TotalSeconds:0} s each after {GroupSettle.TotalSeconds:0} s to settle:"));
            md.AppendLine();
            md.AppendLine("| part | requests | req/s | server CPU (cores) | server CPU per request (ms) |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var g in r.Breakdown)
            {
                md.AppendLine(Inv($"| {g.Group} ({g.Kinds}) | {g.Requests} | {g.Requests / g.Seconds:0} | {g.ServerCpuSeconds / g.Seconds:0.00} | {1000 * g.ServerCpuSeconds / Math.Max(1, g.Requests):0.000} |"));
            }
        }
        md.AppendLine();
        md.AppendLine("| target | measured | met? |");
        md.AppendLine("|---|---|---|");
        md.AppendLine(Inv($"| zero errors | {r.Errors} errors, {r.SubscriberErrors} broken streams | {(r.Errors == 0 && r.SubscriberErrors == 0 ? "yes" : "**no**")} |"));
        var perCore = rate / machine.Cores;
        var perServerCore = serverCores > 0 ? rate / serverCores : double.NaN;
        // A decision needs a run at its gate: when the engine brings runs there more slowly than they are created, the
        // clients read instead, and the rate above is of a mix with fewer writes than the one asked for.
        Kind[] decisions = [Kind.ApproveRun, Kind.CancelRun];
        var decided = r.Kinds.Where(k => decisions.Select(Name).Contains(k.Kind)).Sum(k => k.Requests) / (double)Math.Max(1, r.Requests);
        var meant = Mix.Where(m => decisions.Contains(m.Kind)).Sum(m => m.Weight) / 100.0;
        var held = decided >= 0.8 * meant;
        md.AppendLine(Inv($"| the mix held (decisions at gates ≥ 80 % of their {100 * meant:0} % share) | {100 * decided:0.0} % of the requests | {(held ? "yes" : "**no**: the engine fell behind the creates")} |"));
        md.AppendLine(Inv($"| ≥ 5,000 mixed requests/s per server core | {rate:0} req/s on {machine.Cores} cores shared with the client = {perCore:0} per core; {perServerCore:0} per core the server kept busy | {(perCore >= 5000 && held ? "yes" : "**no**")} |"));
        md.AppendLine(Inv($"| p95 ≤ 10 ms | p95 {r.All.P95:0.00} ms, p99 {r.All.P99:0.00} ms | {(r.All.P95 <= 10 ? "yes" : "**no**")} |"));
        return md.ToString();
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
