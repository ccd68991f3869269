using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Client;

namespace Baton.Bench;

internal sealed record ThroughputResult(int Pass, int Workers, int Runs, EventFacts Facts, double ClientSeconds, double CpuSeconds)
{
    /// <summary>CPU time of the whole process (server and the bench's client) per transition: less sensitive to a noisy machine than wall time.</summary>
    public double CpuMsPerTransition => CpuSeconds * 1000 / Facts.PhasesCompleted;

    /// <summary>Phase completions (each one durable transition) per second, from the first create to the last completion.</summary>
    public double TransitionsPerSecond => Facts.PhasesCompleted / Facts.WindowSeconds;

    public double EngineTransitionsPerSecond => Facts.PhasesCompleted / Facts.EngineSeconds;
}

/// <summary>Part 1: many runs of the straight-through profile at once; durable phase transitions per second.</summary>
internal static class TransitionsBench
{
    private const int WarmupRuns = 20;
    private const int CreateParallelism = 8;
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public static async Task<ThroughputResult> RunAsync(BenchOptions options, int pass, int workers)
    {
        await using var server = await BenchServer.StartAsync(BenchServer.NewDataDir(options.DataRoot), workers, options.WatchedDataDir);
        var rounds = await Warmup.UntilJitSettlesAsync(() => CreateAndWaitAsync(server, WarmupRuns, "warmup", options.IntakeBytes));
        Console.Error.WriteLine($"  warm-up: {rounds * WarmupRuns} runs; data dir {server.DataDir}");

        var cpu = Environment.CpuUsage.TotalTime;
        var clock = Stopwatch.StartNew();
        var ids = await CreateAndWaitAsync(server, options.Runs, "bench", options.IntakeBytes);
        var clientSeconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Environment.CpuUsage.TotalTime - cpu).TotalSeconds;

        await server.StopAsync();
        var facts = await EventFacts.ReadAsync(server.DatabasePath, ids);
        return new ThroughputResult(pass, workers, options.Runs, facts, clientSeconds, cpuSeconds);
    }

    /// <summary>Creates <paramref name="count"/> runs through the API, a few at a time, and waits until all have finished.</summary>
    public static async Task<IReadOnlyCollection<string>> CreateAndWaitAsync(BenchServer server, int count, string project, int intakeBytes)
    {
        var ids = new ConcurrentBag<string>();
        var before = await FinishedAsync(server, project);
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = CreateParallelism }, async (i, ct) =>
        {
            var run = await server.Client.CreateRunAsync(new CreateRunRequest(BenchServer.StraightProfile, Intake(i, intakeBytes), project), ct: ct);
            ids.Add(run.RunId);
        });

        // Polled through the API as any client would; the rate itself comes from the server's timestamps, so the
        // poll interval does not limit its precision.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var finished = await FinishedAsync(server, project) - before;
            if (finished >= count)
            {
                return ids;
            }
            if (deadline.Elapsed > Timeout)
            {
                throw new TimeoutException($"only {finished} of {count} runs finished within {Timeout}");
            }
            await Task.Delay(50);
        }
    }

    private static async Task<long> FinishedAsync(BenchServer server, string project) =>
        (await server.Client.ListRunsAsync(status: "completed", project: project, limit: 1)).Total
        + (await server.Client.ListRunsAsync(status: "failed", project: project, limit: 1)).Total;

    /// <summary>A run's intake of about <paramref name="bytes"/> bytes: a short ticket by default, a PRD if asked.</summary>
    public static string Intake(int i, int bytes)
    {
        const string Sentence = "The service must keep working while the change rolls out, with tests for every behaviour. ";
        var head = $"Run {i}: add a health endpoint to the billing service. ";
        var pad = Math.Max(0, bytes - head.Length);
        return head + string.Concat(Enumerable.Repeat(Sentence, pad / Sentence.Length + 1))[..pad];
    }
}
