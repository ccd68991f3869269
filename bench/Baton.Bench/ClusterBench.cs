using System.Diagnostics;
using System.Globalization;

namespace Baton.Bench;

/// <summary>What a cluster measurement loads the nodes with (issue 11's bench/ bullet).</summary>
internal enum ClusterLoad
{
    /// <summary>The peers' workload A: no-op template phases, many runs in flight.</summary>
    NoOp,

    /// <summary>Phases that each take a while (template delay), more runs in flight than the worker nodes run at once.</summary>
    Delayed,

    /// <summary>Runs one at a time on idle nodes, with a gate that the api node approves: wake-ups across nodes.</summary>
    WakeUp,
}

/// <summary>One cluster measurement: a load, on how many worker nodes, how many runs, how many kept in flight.</summary>
/// <param name="Load">what the runs are.</param>
/// <param name="WorkerNodes">how many worker nodes, beside the api node.</param>
/// <param name="Runs">how many runs are measured.</param>
/// <param name="InFlight">how many runs are kept outstanding.</param>
/// <param name="EngineWorkers">BATON_WORKERS of each node, or null for the shipped default.</param>
internal sealed record ClusterWorkload(ClusterLoad Load, int WorkerNodes, int Runs, int InFlight, int? EngineWorkers)
{
    /// <summary>How many phases one worker node runs at once.</summary>
    public int PhasesAtOnce => EngineWorkers ?? Baton.Engine.EngineOptions.DefaultConcurrency;

    public string Name => Load switch
    {
        ClusterLoad.NoOp => "a: no-op phases",
        ClusterLoad.Delayed => "b: delayed phases",
        _ => "c: wake-up, one at a time",
    };

    /// <summary>What the client drives: the straight profile, the delayed one, or the gated one.</summary>
    public PeersWorkload Drive => Load switch
    {
        ClusterLoad.NoOp => new(Gated: false, Runs, InFlight),
        ClusterLoad.Delayed => new(Gated: false, Runs, InFlight, BenchServer.DelayedProfile),
        _ => new(Gated: true, Runs, InFlight),
    };

    /// <summary>
    /// Warm-up drives the same code without the delay (delayed rounds would take seconds each and compile nothing
    /// more); the wake-up load warms up on its gated profile, so that approvals are compiled too.
    /// </summary>
    public PeersWorkload WarmupRound(int inFlight) => new(Gated: Load == ClusterLoad.WakeUp, PeersBench.WarmupRound, inFlight);
}

/// <param name="Pass">which pass of --repeat.</param>
/// <param name="Workload">what was run.</param>
/// <param name="Facts">what the database says about the measured runs.</param>
/// <param name="EndToEnd">client: POST /api/runs sent → the run's completion event received.</param>
/// <param name="BatonCpuMs">CPU time of every node's process from the first create sent to the last completion received.</param>
/// <param name="PostgresCpuMs">CPU time of PostgreSQL's processes over the same time.</param>
/// <param name="ApiIdlePercent">the api node's CPU over the idle window after the load, in % of one core.</param>
/// <param name="WorkerIdlePercent">the busiest worker node's, over the same window.</param>
/// <param name="PostgresIdlePercent">PostgreSQL's, over the same window.</param>
/// <param name="LoadAverage">the machine's load averages when the measured runs began.</param>
internal sealed record ClusterResult(
    int Pass,
    ClusterWorkload Workload,
    ClusterFacts Facts,
    Distribution EndToEnd,
    double BatonCpuMs,
    double PostgresCpuMs,
    double ApiIdlePercent,
    double WorkerIdlePercent,
    double PostgresIdlePercent,
    string LoadAverage)
{
    public double RunsPerSecond => Facts.Events.RunsCompleted / Facts.Events.WindowSeconds;

    public double PhasesPerSecond => Facts.Events.PhasesCompleted / Facts.Events.WindowSeconds;

    public double BatonCpuMsPerRun => BatonCpuMs / Workload.Runs;

    public double PostgresCpuMsPerRun => PostgresCpuMs / Workload.Runs;
}

/// <summary>
/// Issue 11's multi-node benchmark: the peers' workload through the api node of real `baton serve` processes that
/// share one PostgreSQL database, with 1, 2, 3… worker nodes. Each measurement gets a fresh database and fresh
/// processes, a JIT warm-up, the measured runs, then an idle window.
/// </summary>
internal static class ClusterBench
{
    public static IEnumerable<ClusterWorkload> Workloads(BenchOptions o) =>
        from load in o.ClusterLoads
        from nodes in o.ClusterWorkers
        select load switch
        {
            ClusterLoad.NoOp => new ClusterWorkload(load, nodes, o.PeersRuns, o.PeersInFlight, o.PeersWorkers),
            ClusterLoad.Delayed => new ClusterWorkload(load, nodes, o.ClusterDelayedRuns, o.ClusterDelayedInFlight, o.ClusterDelayedWorkers),
            _ => new ClusterWorkload(load, nodes, o.ClusterWakeRuns, 1, o.PeersWorkers),
        };

    public static async Task<ClusterResult> RunAsync(BenchOptions options, PostgresServer postgres, int pass, ClusterWorkload workload)
    {
        await using var nodes = await ClusterNodes.StartAsync(postgres, workload.WorkerNodes, workload.EngineWorkers, options.DataRoot, options.ClusterPhaseDelay);
        var watch = RunWatch.Open(nodes.Client);
        PeersBench.RunTiming[] timings;
        TimeSpan batonCpu, postgresCpu;
        string load;
        try
        {
            var round = workload.WarmupRound(options.PeersInFlight);
            var rounds = await Warmup.UntilCostSettlesAsync(async () =>
            {
                var before = nodes.CpuTime();
                await PeersBench.DriveAsync(nodes.Client, watch, round, "warmup", options.IntakeBytes);
                return (nodes.CpuTime() - before).TotalMilliseconds / round.Runs;
            }, async () =>
            {
                // At rest: every node under 2 % of a core over a second with no load (the clock ticks are 10 ms).
                var before = nodes.All.Select(n => n.CpuTime()).ToList();
                await Task.Delay(TimeSpan.FromSeconds(1));
                return nodes.All.Select((n, i) => n.CpuTime() - before[i]).All(cpu => cpu < TimeSpan.FromMilliseconds(20));
            });
            Console.Error.WriteLine($"  warm-up: {rounds * round.Runs} runs; api pid {nodes.Api.Pid}, worker pids {string.Join(' ', nodes.Workers.Select(w => w.Pid))}");
            if (workload.Load == ClusterLoad.WakeUp)
            {
                await ClusterFacts.InstallEventClockAsync(nodes.Database);
            }

            if (options.ClusterSeedRuns > 0)
            {
                await PostgresServer.SeedFinishedRunsAsync(nodes.Database, options.ClusterSeedRuns);
                Console.Error.WriteLine($"  seeded {options.ClusterSeedRuns} finished runs");
            }
            await postgres.CheckpointAsync();
            load = Machine.LoadAverageNow();
            var (batonBefore, postgresBefore) = (nodes.CpuTime(), postgres.CpuTime());
            timings = await PeersBench.DriveAsync(nodes.Client, watch, workload.Drive, "bench", options.IntakeBytes);
            (batonCpu, postgresCpu) = (nodes.CpuTime() - batonBefore, postgres.CpuTime() - postgresBefore);
        }
        finally
        {
            // Closed before the idle window: what is left is the nodes' own background work.
            await watch.DisposeAsync();
        }

        await Task.Delay(options.IdleSettle);
        var idleBefore = (Api: nodes.Api.CpuTime(), Workers: nodes.Workers.Select(w => w.CpuTime()).ToList(), Postgres: postgres.CpuTime());
        var idle = Stopwatch.StartNew();
        await Task.Delay(options.IdleTime);
        double Percent(TimeSpan cpu) => cpu / idle.Elapsed * 100;
        var apiIdle = Percent(nodes.Api.CpuTime() - idleBefore.Api);
        var workerIdle = nodes.Workers.Select((w, i) => Percent(w.CpuTime() - idleBefore.Workers[i])).Max();
        var postgresIdle = Percent(postgres.CpuTime() - idleBefore.Postgres);

        var facts = await ClusterFacts.ReadAsync(nodes.Database, timings.Select(t => t.RunId).ToList(), eventClock: workload.Load == ClusterLoad.WakeUp);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {facts.Events.RunsCompleted} runs completed, {facts.Events.RunsFailed} failed; phases by node: {string.Join(", ", facts.PhasesByNode.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}"));
        return new ClusterResult(
            pass, workload, facts,
            Distribution.Of(timings.Select(t => Stopwatch.GetElapsedTime(t.Sent, t.Finished).TotalMilliseconds)),
            batonCpu.TotalMilliseconds, postgresCpu.TotalMilliseconds, apiIdle, workerIdle, postgresIdle, load);
    }
}
