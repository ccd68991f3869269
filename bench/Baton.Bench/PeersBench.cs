using System.Diagnostics;
using Baton.Client;

namespace Baton.Bench;

/// <summary>One shape of the peers' workload: which profile, how many runs, how many kept in flight.</summary>
/// <param name="Gated">with a gate after phase 2, approved as soon as it opens (workload B).</param>
/// <param name="Runs">how many runs are measured.</param>
/// <param name="InFlight">how many runs are kept outstanding.</param>
/// <param name="ProfileName">another profile than the straight or gated one (the cluster part's delayed phases).</param>
internal sealed record PeersWorkload(bool Gated, int Runs, int InFlight, string? ProfileName = null)
{
    public string Profile => ProfileName ?? (Gated ? BenchServer.GatedProfile : BenchServer.StraightProfile);

    public string Name => (Gated ? $"B: gate after phase {BenchServer.GateAfterPhase}" : "A: straight")
        + (InFlight == 1 ? ", one at a time" : $", {InFlight} in flight");
}

/// <summary>One workload's figures.</summary>
/// <param name="Pass">which pass of --repeat.</param>
/// <param name="Workload">what was run.</param>
/// <param name="Facts">what the server's database says about the measured runs.</param>
/// <param name="EndToEnd">client: POST /api/runs sent → the run's completion event received.</param>
/// <param name="ResumeToDoneClient">client: the approve request answered → the run's completion event received.</param>
/// <param name="ServerCpuMs">the server process's CPU time from the first create sent to the last completion received.</param>
/// <param name="PeakRssBytes">VmHWM of the server process after the idle window.</param>
/// <param name="IdleCpuPercent">the server's CPU time over the idle window after the load, in % of one core.</param>
/// <param name="LoadAverage">the machine's load averages when the measured runs began.</param>
internal sealed record PeersResult(
    int Pass,
    PeersWorkload Workload,
    EventFacts Facts,
    Distribution EndToEnd,
    Distribution ResumeToDoneClient,
    double ServerCpuMs,
    long PeakRssBytes,
    double IdleCpuPercent,
    string LoadAverage)
{
    /// <summary>Completed runs per second, from the first run created to the last completed (server clock).</summary>
    public double RunsPerSecond => Facts.RunsCompleted / Facts.WindowSeconds;

    public double PhasesPerSecond => Facts.PhasesCompleted / Facts.WindowSeconds;

    public double CpuMsPerRun => ServerCpuMs / Workload.Runs;
}

/// <summary>
/// The peers' workload (../shared/STACK.md, issue 10) through the HTTP API, against the server running as a process
/// of its own, so that its CPU and memory are measured alone. Each workload gets a fresh server and data dir, a JIT
/// warm-up, the measured runs, then an idle window.
/// </summary>
internal static class PeersBench
{
    public const int WarmupRound = 100;

    public static IReadOnlyList<PeersWorkload> Workloads(BenchOptions o) =>
    [
        new(Gated: false, o.PeersRuns, o.PeersInFlight),
        new(Gated: false, o.PeersSequentialRuns, 1),
        new(Gated: true, o.PeersGatedRuns, o.PeersInFlight),
        new(Gated: true, o.PeersGatedRuns, 1),
    ];

    /// <summary>One run as the client saw it (Stopwatch timestamps).</summary>
    internal sealed record RunTiming(string RunId, long Sent, long? ApproveAnswered, long Finished);

    public static async Task<PeersResult> RunAsync(BenchOptions options, int pass, PeersWorkload workload)
    {
        await using var server = await ServerProcess.StartAsync(BenchServer.NewDataDir(options.DataRoot), options.PeersWorkers);
        var watch = RunWatch.Open(server.Client);
        RunTiming[] timings;
        TimeSpan cpu;
        string load;
        try
        {
            // Rounds in flight whatever the workload: the server compiles the same code paths, sooner.
            var round = workload with { Runs = WarmupRound, InFlight = options.PeersInFlight };
            var rounds = await Warmup.UntilCostSettlesAsync(async () =>
            {
                var before = server.CpuTime();
                await DriveAsync(server.Client, watch, round, "warmup", options.IntakeBytes);
                return (server.CpuTime() - before).TotalMilliseconds / round.Runs;
            }, async () =>
            {
                // At rest: under 2 % of a core over a second with no load (the clock ticks are 10 ms).
                var before = server.CpuTime();
                await Task.Delay(TimeSpan.FromSeconds(1));
                return server.CpuTime() - before < TimeSpan.FromMilliseconds(20);
            });
            Console.Error.WriteLine($"  warm-up: {rounds * WarmupRound} runs; server pid {server.Pid}, data dir {server.DataDir}");

            load = Machine.LoadAverageNow();
            var cpuBefore = server.CpuTime();
            timings = await DriveAsync(server.Client, watch, workload, "bench", options.IntakeBytes);
            cpu = server.CpuTime() - cpuBefore;
        }
        finally
        {
            // Closed before the idle window: what is left is the server's own background work.
            await watch.DisposeAsync();
        }

        await Task.Delay(options.IdleSettle);
        var idleCpu = server.CpuTime();
        var idle = Stopwatch.StartNew();
        await Task.Delay(options.IdleTime);
        var idlePercent = (server.CpuTime() - idleCpu) / idle.Elapsed * 100;
        var peakRss = server.PeakRssBytes();

        await server.StopAsync();
        var facts = await EventFacts.ReadAsync(server.DatabasePath, timings.Select(t => t.RunId).ToList());
        return new PeersResult(
            pass, workload, facts,
            Distribution.Of(timings.Select(t => Stopwatch.GetElapsedTime(t.Sent, t.Finished).TotalMilliseconds)),
            Distribution.Of(timings.Where(t => t.ApproveAnswered is not null)
                .Select(t => Stopwatch.GetElapsedTime(t.ApproveAnswered!.Value, t.Finished).TotalMilliseconds)),
            cpu.TotalMilliseconds, peakRss, idlePercent, load);
    }

    /// <summary>Keeps <see cref="PeersWorkload.InFlight"/> runs outstanding: each lane creates a run, waits until it has finished, creates the next.</summary>
    internal static async Task<RunTiming[]> DriveAsync(BatonClient client, RunWatch watch, PeersWorkload workload, string project, int intakeBytes)
    {
        var timings = new RunTiming[workload.Runs];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Min(workload.InFlight, workload.Runs)).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < workload.Runs; i = Interlocked.Increment(ref next))
            {
                timings[i] = await OneRunAsync(client, watch, workload, TransitionsBench.Intake(i, intakeBytes), project);
            }
        })));
        return timings;
    }

    private static async Task<RunTiming> OneRunAsync(BatonClient client, RunWatch watch, PeersWorkload workload, string intake, string project)
    {
        var sent = Stopwatch.GetTimestamp();
        var run = await client.CreateRunAsync(new CreateRunRequest(workload.Profile, intake, project));
        long? approveAnswered = null;
        if (workload.Gated)
        {
            await watch.GateOpenedAsync(run.RunId);
            await client.ApproveAsync(run.RunId);
            approveAnswered = Stopwatch.GetTimestamp();
        }
        var finished = await watch.FinishedAsync(run.RunId);
        return new RunTiming(run.RunId, sent, approveAnswered, finished.Timestamp);
    }
}
