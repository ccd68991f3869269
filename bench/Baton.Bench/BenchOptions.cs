using System.Globalization;

namespace Baton.Bench;

/// <summary>Command-line options. Defaults keep one pass of everything under about three minutes on two cores.</summary>
internal sealed record BenchOptions
{
    public int Runs { get; init; } = 200;

    /// <summary>Engine concurrencies (BATON_WORKERS) for the throughput part; the latency part uses the first one above 1, else the first.</summary>
    public IReadOnlyList<int> Workers { get; init; } = [1, 4];

    public int SeedRuns { get; init; } = 100_000;

    public int SequentialRuns { get; init; } = 50;

    /// <summary>Intake size of every run, created or seeded: a short ticket by default; PRDs can be far larger (up to 1 MiB).</summary>
    public int IntakeBytes { get; init; } = 900;

    public int Requests { get; init; } = 300;

    public int Repeat { get; init; } = 1;

    /// <summary>The peers' workload (issue 10): runs kept in flight, and how many runs each of its shapes has.</summary>
    public int PeersRuns { get; init; } = 2_000;

    public int PeersInFlight { get; init; } = 32;

    /// <summary>The server's BATON_WORKERS for the peers' workload; null keeps the shipped default.</summary>
    public int? PeersWorkers { get; init; }

    public int PeersSequentialRuns { get; init; } = 200;

    public int PeersGatedRuns { get; init; } = 200;

    /// <summary>How long the server is left alone after the load before its idle CPU is measured: the load's tail (JIT, GC, the thread pool shrinking) is not idleness.</summary>
    public TimeSpan IdleSettle { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long the server's idle CPU is measured, after <see cref="IdleSettle"/>.</summary>
    public TimeSpan IdleTime { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The cluster part (issue 11): an Npgsql connection string to a PostgreSQL server on this machine.</summary>
    public string? Postgres { get; init; }

    /// <summary>How many worker nodes each cluster load runs with, beside the one api node.</summary>
    public IReadOnlyList<int> ClusterWorkers { get; init; } = [1, 2, 3];

    public IReadOnlyList<ClusterLoad> ClusterLoads { get; init; } = [ClusterLoad.NoOp, ClusterLoad.Delayed, ClusterLoad.WakeUp];

    public TimeSpan ClusterPhaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public int ClusterDelayedRuns { get; init; } = 400;

    /// <summary>
    /// Finished runs added to each cluster measurement's database after its warm-up (rows of `runs` only, copies of a
    /// finished one of the client's key): what a database with history does to the creates.
    /// </summary>
    public int ClusterSeedRuns { get; init; }

    /// <summary>
    /// BATON_WORKERS of each worker node for the delayed phases. Not the shipped 32: 3 nodes × 32 phases of 200 ms at
    /// once are 480 hand-offs a second, which would need more than this machine's two cores (shared with PostgreSQL and
    /// the client) and measure the CPU instead of whether the work spreads. With 8, even 3 nodes stay well under a core.
    /// </summary>
    public int ClusterDelayedWorkers { get; init; } = 8;

    /// <summary>
    /// Runs in flight for the delayed phases: more than three worker nodes run at once (3 × BATON_WORKERS), so that
    /// every node always has a job waiting and the rate measures the nodes, not the client.
    /// </summary>
    public int ClusterDelayedInFlight => ClusterDelayedInFlightSetting ?? 4 * ClusterDelayedWorkers;

    public int? ClusterDelayedInFlightSetting { get; init; }

    public int ClusterWakeRuns { get; init; } = 200;

    /// <summary>The load harness (issue 14): runs seeded, concurrent clients, SSE subscribers, warm-up and measured time.</summary>
    public int LoadSeedRuns { get; init; } = 1_000_000;

    public int LoadClients { get; init; } = 200;

    public int LoadSubscribers { get; init; } = 20;

    public TimeSpan LoadWarmup { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan LoadDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Requests per second the clients offer between them (an open loop); null: each sends as soon as answered.</summary>
    public int? LoadRate { get; init; }

    /// <summary>A folder that keeps a seeded database for the next load measurement of the same size (seeding takes minutes).</summary>
    public string? LoadSeedCache { get; init; }

    public string? Only { get; init; }

    public bool WriteDoc { get; init; }

    public bool WatchedDataDir { get; init; }

    public string DataRoot { get; init; } = Path.GetTempPath();

    public IReadOnlyList<string> Args { get; init; } = [];

    public int LatencyWorkers => Workers.FirstOrDefault(w => w > 1, Workers[0]);

    /// <summary>Everything but the peers' workload, the cluster and the load harness by default: they start their own server processes and take minutes.</summary>
    public bool Includes(string part) => Only == part || (Only is null && part is not ("peers" or "cluster" or "load"));

    public const string Usage = """
        usage: dotnet run -c Release --project bench/Baton.Bench -- [options]
          --runs N             runs per throughput measurement (default 200; 5 template phases each)
          --workers N[,M]      engine concurrency (BATON_WORKERS) for throughput (default 1,4)
          --seed-runs N        runs seeded for the GET /api/runs part (default 100000)
          --intake-bytes N     intake size of every run, created or seeded (default 900)
          --sequential-runs N  runs created one at a time on an idle server for wake-up latency (default 50)
          --requests N         timed requests per GET /api/runs query and dashboard page (default 300)
          --repeat N           run everything N times and report each pass and the median (default 1)
          --only PART          transitions | latency | list | dashboard | peers | cluster | load (peers, cluster and
                               load run only when named)
          --peers-runs N       peers: runs of 5 template phases kept --peers-in-flight at a time (default 2000)
          --peers-in-flight N  peers: runs outstanding at once; each finished run is replaced by a new one (default 32)
          --peers-workers N    peers: the server's BATON_WORKERS (default: the shipped default)
          --peers-sequential-runs N
                               peers: runs of 5 template phases one at a time (default 200)
          --peers-gated-runs N peers: runs with a gate after phase 2, approved as soon as it opens; measured in
                               flight and again one at a time (default 200)
          --idle-settle-seconds N
                               how long the server is left alone after each load before its idle CPU is measured
                               (default 20)
          --idle-seconds N     how long its idle CPU is then measured (default 20)
          --postgres CONN      cluster: an Npgsql connection string to a PostgreSQL server on this machine whose
                               user may create databases (a fresh one per measurement, dropped afterwards)
          --cluster-workers N[,M]
                               cluster: worker nodes beside the one api node (default 1,2,3)
          --cluster-loads L[,L]
                               cluster: noop (the peers' workload A, --peers-runs and --peers-in-flight), delayed
                               (phases that take --cluster-delay-ms), wake (one run at a time, gate approved on the
                               api node: wake-ups across nodes) (default noop,delayed,wake)
          --cluster-delay-ms N cluster: how long each delayed phase takes (default 200)
          --cluster-delayed-runs N
                               cluster: runs of delayed phases (default 400)
          --cluster-delayed-workers N
                               cluster: BATON_WORKERS of each worker node for the delayed phases (default 8, so
                               that two cores are not what caps 3 nodes)
          --cluster-delayed-in-flight N
                               cluster: delayed runs outstanding at once (default 4 × --cluster-delayed-workers)
          --cluster-wake-runs N
                               cluster: runs one at a time for the wake-ups (default 200)
          --cluster-seed-runs N
                               cluster: finished runs of the client's key added to the database after the warm-up,
                               before measuring (rows of `runs` only; default none)
          --load-seed-runs N   load: runs seeded before the server starts (default 1000000)
          --load-clients N     load: concurrent clients, each with its own approver key (default 200)
          --load-subscribers N load: SSE subscribers on /api/events, each with a viewer key (default 20)
          --load-warmup-seconds N
                               load: seconds of load before the measured window (default 15)
          --load-seconds N     load: the measured window (default 60)
          --load-rate N        load: the requests per second the clients offer between them, each paced at its share,
                               with latency counted from when a request was due (default: none, a closed loop: each
                               client sends as soon as its last request is answered)
          --load-seed-cache DIR
                               load: keep the seeded database in DIR and start from a copy of it next time, for
                               A/B runs (delete DIR after a migration changes the schema)
          --data-root DIR      where the temporary data dirs go (default the system temp dir)
          --watched-data-dir   put the data dir inside the server's content root, as `dotnet Baton.dll` with the
                               default ./.baton does (the appsettings file watcher then sees every database write)
          --write-doc          replace the generated block of docs/BENCHMARKS.md with this run's results
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions { Args = args };
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            options = arg switch
            {
                "--runs" => options with { Runs = Positive(arg, Value()) },
                "--workers" => options with { Workers = Value().Split(',').Select(w => Positive(arg, w)).ToList() },
                "--seed-runs" => options with { SeedRuns = Positive(arg, Value()) },
                "--intake-bytes" => options with { IntakeBytes = Positive(arg, Value()) },
                "--sequential-runs" => options with { SequentialRuns = Positive(arg, Value()) },
                "--requests" => options with { Requests = Positive(arg, Value()) },
                "--repeat" => options with { Repeat = Positive(arg, Value()) },
                "--peers-runs" => options with { PeersRuns = Positive(arg, Value()) },
                "--peers-in-flight" => options with { PeersInFlight = Positive(arg, Value()) },
                "--peers-workers" => options with { PeersWorkers = Positive(arg, Value()) },
                "--peers-sequential-runs" => options with { PeersSequentialRuns = Positive(arg, Value()) },
                "--peers-gated-runs" => options with { PeersGatedRuns = Positive(arg, Value()) },
                "--idle-settle-seconds" => options with { IdleSettle = TimeSpan.FromSeconds(Positive(arg, Value())) },
                "--idle-seconds" => options with { IdleTime = TimeSpan.FromSeconds(Positive(arg, Value())) },
                "--only" => options with { Only = Value() is var part and ("transitions" or "latency" or "list" or "dashboard" or "peers" or "cluster" or "load") ? part : throw new ArgumentException("--only takes transitions, latency, list, dashboard, peers, cluster or load") },
                "--postgres" => options with { Postgres = Value() },
                "--cluster-workers" => options with { ClusterWorkers = Value().Split(',').Select(w => Positive(arg, w)).ToList() },
                "--cluster-loads" => options with { ClusterLoads = Value().Split(',').Select(Load).ToList() },
                "--cluster-delay-ms" => options with { ClusterPhaseDelay = TimeSpan.FromMilliseconds(Positive(arg, Value())) },
                "--cluster-delayed-runs" => options with { ClusterDelayedRuns = Positive(arg, Value()) },
                "--cluster-delayed-workers" => options with { ClusterDelayedWorkers = Positive(arg, Value()) },
                "--cluster-delayed-in-flight" => options with { ClusterDelayedInFlightSetting = Positive(arg, Value()) },
                "--cluster-wake-runs" => options with { ClusterWakeRuns = Positive(arg, Value()) },
                "--cluster-seed-runs" => options with { ClusterSeedRuns = Positive(arg, Value()) },
                "--load-seed-runs" => options with { LoadSeedRuns = Positive(arg, Value()) },
                "--load-clients" => options with { LoadClients = Positive(arg, Value()) },
                "--load-subscribers" => options with { LoadSubscribers = Positive(arg, Value()) },
                "--load-warmup-seconds" => options with { LoadWarmup = TimeSpan.FromSeconds(Positive(arg, Value())) },
                "--load-seconds" => options with { LoadDuration = TimeSpan.FromSeconds(Positive(arg, Value())) },
                "--load-rate" => options with { LoadRate = Positive(arg, Value()) },
                "--load-seed-cache" => options with { LoadSeedCache = Value() },
                "--data-root" => options with { DataRoot = Path.GetFullPath(Value()) },
                "--write-doc" => options with { WriteDoc = true },
                "--watched-data-dir" => options with { WatchedDataDir = true },
                _ => throw new ArgumentException($"unknown argument '{arg}'"),
            };
        }
        if ((options.Only == "cluster") != (options.Postgres is not null))
        {
            throw new ArgumentException("--only cluster needs --postgres, and --postgres is only for --only cluster");
        }
        if (options.Only is "cluster" or "load" && options.WriteDoc)
        {
            throw new ArgumentException("--write-doc does not take the cluster's or the load harness's results: they are printed, to be copied into docs/BENCHMARKS.md");
        }
        if (options.Workers.Any(w => w > 256) || options.ClusterDelayedWorkers > 256 || options.PeersWorkers > 256)
        {
            throw new ArgumentException("--workers, --peers-workers and --cluster-delayed-workers must be 1..256 (BATON_WORKERS' range)");
        }
        return options;
    }

    private static ClusterLoad Load(string text) => text switch
    {
        "noop" => ClusterLoad.NoOp,
        "delayed" => ClusterLoad.Delayed,
        "wake" => ClusterLoad.WakeUp,
        _ => throw new ArgumentException($"--cluster-loads takes noop, delayed and wake, not '{text}'"),
    };

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a whole number above 0, not '{text}'");
}
