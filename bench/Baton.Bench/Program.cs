using System.Diagnostics;

namespace Baton.Bench;

/// <summary>
/// Throughput and latency of the real server on SQLite with the template agent: durable phase transitions per
/// second, wake-up latency between phases, GET /api/runs and the dashboard over a large table, and the peers'
/// workload against the server as a process of its own; and with --only cluster the peers' workload on PostgreSQL
/// with one api node and N worker nodes, each a process of its own. A plain program, not
/// BenchmarkDotNet: these are end-to-end measurements of a running server, not micro-benchmarks.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(BenchOptions.Usage);
            return 2;
        }

        if (options.Only == "cluster")
        {
            // PostgreSQL and several processes: a report of its own, without SQLite's storage floor.
            return await RunClusterAsync(options);
        }

        if (options.Only == "load")
        {
            var started = Stopwatch.StartNew();
            var machine = Machine.Describe(options.DataRoot);
            var result = await LoadBench.RunAsync(options, what => Console.Error.WriteLine($"[{started.Elapsed:mm\\:ss}] {what}"));
            Console.WriteLine(LoadBench.Markdown(result, machine, options));
            return result.Errors == 0 && result.SubscriberErrors == 0 ? 0 : 1;
        }

        var clock = Stopwatch.StartNew();
        var results = new Results { Options = options, Machine = Machine.Describe(options.DataRoot), Started = DateTimeOffset.UtcNow };
        Progress("fdatasync floor");
        results.Fsync = Fsync.Measure(options.DataRoot, append: false);
        results.FsyncAppend = Fsync.Measure(options.DataRoot, append: true);
        if (options.Includes("transitions"))
        {
            Progress("storage floor");
            results.Floor = await WriteFloor.MeasureAsync(options.DataRoot);
        }
        for (var pass = 1; pass <= options.Repeat; pass++)
        {
            if (options.Includes("transitions"))
            {
                foreach (var workers in options.Workers)
                {
                    Progress($"pass {pass}: transitions, {options.Runs} runs, BATON_WORKERS={workers}");
                    results.Throughput.Add(await TransitionsBench.RunAsync(options, pass, workers));
                }
            }
            if (options.Includes("latency"))
            {
                Progress($"pass {pass}: wake-up latency, {options.SequentialRuns} runs one at a time, BATON_WORKERS={options.LatencyWorkers}");
                results.Latency.Add(await LatencyBench.RunAsync(options, pass));
            }
            if (options.Includes("list"))
            {
                Progress($"pass {pass}: GET /api/runs, seeding {options.SeedRuns} runs");
                results.Lists.Add(await RunListBench.RunAsync(options, pass));
            }
            if (options.Includes("dashboard"))
            {
                Progress($"pass {pass}: dashboard pages, seeding {options.SeedRuns} runs");
                results.Dashboards.Add(await DashboardPagesBench.RunAsync(options, pass));
            }
            if (options.Includes("peers"))
            {
                foreach (var workload in PeersBench.Workloads(options))
                {
                    Progress($"pass {pass}: peers' workload {workload.Name}, {workload.Runs} runs, server in its own process");
                    results.Peers.Add(await PeersBench.RunAsync(options, pass, workload));
                }
            }
        }
        results.Elapsed = clock.Elapsed;

        var markdown = Report.Markdown(results);
        Console.WriteLine(markdown);
        if (options.WriteDoc)
        {
            Progress($"wrote {Report.WriteDoc(markdown)}");
        }
        return 0;

        void Progress(string what) => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {what}");
    }

    private static async Task<int> RunClusterAsync(BenchOptions options)
    {
        var clock = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        var machine = Machine.Describe(options.DataRoot);
        var postgres = await PostgresServer.OpenAsync(options.Postgres!);
        Console.Error.WriteLine($"{postgres.Description}; postmaster pid {postgres.PostmasterPid}");
        var results = new List<ClusterResult>();
        for (var pass = 1; pass <= options.Repeat; pass++)
        {
            foreach (var workload in ClusterBench.Workloads(options))
            {
                Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] pass {pass}: cluster {workload.Name}, {workload.WorkerNodes} worker node(s), {workload.Runs} runs, {workload.InFlight} in flight");
                results.Add(await ClusterBench.RunAsync(options, postgres, pass, workload));
            }
        }
        Console.WriteLine(ClusterReport.Markdown(results, options, machine, postgres, started, clock.Elapsed));
        return 0;
    }
}
