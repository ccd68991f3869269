using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.Channels;
using Baton.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.Bench;

/// <summary>
/// The real server (AddBaton/MapBaton, Kestrel, auth, engine) in this process, on 127.0.0.1 and a free port, with
/// its own data dir. In-process so the bench can give it a marking clock and read its database afterwards.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    public const string AdminToken = "bench-admin-token-not-a-secret";
    public const string StraightProfile = "bench_straight";
    public const int StraightPhases = 5;

    /// <summary>The straight profile with a gate after <see cref="GateAfterPhase"/>: the peers' workload B.</summary>
    public const string GatedProfile = "bench_gated";
    public const int GateAfterPhase = 2;

    /// <summary>The straight profile with a template <c>delay</c> on every phase: phases that take time, as agents do.</summary>
    public const string DelayedProfile = "bench_delayed";

    private WebApplication? _app;

    private BenchServer(string dataDir, PhaseMarks marks)
    {
        DataDir = dataDir;
        Marks = marks;
    }

    public string DataDir { get; }

    public string DatabasePath => Path.Combine(DataDir, "baton.db");

    public PhaseMarks Marks { get; }

    public BatonClient Client { get; private set; } = null!;

    /// <summary>With timeRequests: each request's time inside the server (the whole pipeline), in order of completion.</summary>
    public Channel<double> RequestTimes { get; } = Channel.CreateUnbounded<double>();

    /// <summary>
    /// A fresh, empty data dir with the bench profiles in its profiles folder, in a folder of its own next to an
    /// empty content root for the server (see <see cref="StartAsync"/>); with <paramref name="phaseDelay"/>, the
    /// delayed profile too.
    /// </summary>
    public static string NewDataDir(string root, TimeSpan? phaseDelay = null)
    {
        var home = Path.Combine(root, "baton-bench-" + Guid.NewGuid().ToString("N")[..12]);
        var dataDir = Path.Combine(home, "data");
        Directory.CreateDirectory(Path.Combine(dataDir, "profiles"));
        Directory.CreateDirectory(Path.Combine(home, "app"));
        File.WriteAllText(Path.Combine(dataDir, "profiles", StraightProfile + ".yaml"), ProfileYaml(StraightProfile, gateAfter: null));
        File.WriteAllText(Path.Combine(dataDir, "profiles", GatedProfile + ".yaml"), ProfileYaml(GatedProfile, GateAfterPhase));
        if (phaseDelay is { } delay)
        {
            File.WriteAllText(Path.Combine(dataDir, "profiles", DelayedProfile + ".yaml"), ProfileYaml(DelayedProfile, gateAfter: null, delay));
        }
        return dataDir;
    }

    /// <param name="dataDir">a folder made by <see cref="NewDataDir"/>.</param>
    /// <param name="workers">BATON_WORKERS: the engine's concurrency.</param>
    /// <param name="watchedDataDir">
    /// Make the data dir part of the content root, as with `dotnet Baton.dll` and the default ./.baton: the host's
    /// appsettings watcher (recursive over the content root) then wakes for every database write. Off by default,
    /// so that the numbers are Baton's own.
    /// </param>
    /// <param name="timeRequests">Record every request's server time in <see cref="RequestTimes"/>.</param>
    public static async Task<BenchServer> StartAsync(string dataDir, int workers, bool watchedDataDir, bool timeRequests = false)
    {
        var server = new BenchServer(dataDir, new PhaseMarks());
        var home = Path.GetDirectoryName(dataDir)!;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = Environments.Production,
            ContentRootPath = watchedDataDir ? home : Path.Combine(home, "app"),
        });
        // In-memory settings come last, so a BATON_* variable in the caller's environment cannot leak in.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BATON_DATA_DIR"] = dataDir,
            ["BATON_DATABASE"] = "",
            ["BATON_ADMIN_TOKEN"] = AdminToken,
            ["BATON_WORKERS"] = workers.ToString(CultureInfo.InvariantCulture),
            ["BATON_ROLE"] = "all",
            ["BATON_LOCAL_ADMIN_KEY"] = "false",
            // The bench is one client hammering the server on purpose: per-key rate limiting would measure itself.
            ["BATON_RATE_LIMIT"] = "0",
        });
        // Production-like logging: warnings and errors only (per-request information logs would be measured too).
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        // Registered before AddBaton, whose TryAddSingleton(TimeProvider.System) then keeps this one.
        builder.Services.AddSingleton<TimeProvider>(server.Marks);
        builder.AddBaton();

        var app = builder.Build();
        if (timeRequests)
        {
            // First in the pipeline: authentication, the endpoint and writing the response all count.
            app.Use(async (context, next) =>
            {
                var start = Stopwatch.GetTimestamp();
                await next(context);
                server.RequestTimes.Writer.TryWrite(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            });
        }
        app.MapBaton();
        await app.StartAsync();
        server._app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Client = BatonClient.Create(new Uri(address + "/"), AdminToken);
        return server;
    }

    /// <summary>Stops the server and releases the database file, so that it can be read and then deleted.</summary>
    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }
        Client.Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
        SqliteConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        DeleteDataDir(DataDir);
    }

    /// <summary>Deletes a data dir made by <see cref="NewDataDir"/>, with the folder around it.</summary>
    public static void DeleteDataDir(string dataDir)
    {
        SqliteConnection.ClearAllPools();
        var dir = Path.GetDirectoryName(dataDir)!;
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"warning: could not delete {dir}: {ex.Message}");
        }
    }

    /// <summary>
    /// Five template phases and no checks beyond "the artifact exists": without <paramref name="gateAfter"/> a run goes
    /// straight through; with it, the run waits for an approval after that phase. With <paramref name="delay"/>, each
    /// phase's template agent waits that long before it renders.
    /// </summary>
    private static string ProfileYaml(string name, int? gateAfter, TimeSpan? delay = null)
    {
        var phases = string.Concat(Enumerable.Range(1, StraightPhases).Select(i => $"""
              - name: step{i}
                worker: template
                prompt: Write step {i} of the work.
                produces: [step{i}.md]

            """ + (delay is { } d ? $"""
                delay: {d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)}ms

            """ : "") + (i == gateAfter ? """
                gate:
                  required: true

            """ : "")));
        var gates = (gateAfter is null ? "no gates, so a run goes straight through" : $"a gate after phase {gateAfter}")
            + (delay is { } pause ? $"; each phase takes {pause.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms" : "");
        return $"""
            name: {name}
            description: Benchmark profile; {StraightPhases} template phases and {gates}.
            mode: auto
            phases:

            """ + phases;
    }
}
