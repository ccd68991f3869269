using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Client;

namespace Baton.Bench;

internal sealed record ThroughputResult(int Pass, int Workers, int Runs, EventFacts Facts, double ClientSeconds)
{
    /// <summary>Phase completions (each one durable transition) per second, from the first create to the last completion.</summary>
    public double TransitionsPerSecond => Facts.PhasesCompleted / Facts.WindowSeconds;

    public double EngineTransitionsPerSecond => Facts.PhasesCompleted / Facts.EngineSeconds;
}

/// <summary>Part 1: many runs of the straight-through profile at once; durable phase transitions per second.</summary>
internal static class TransitionsBench
{
    // Enough phases for tiered JIT to settle before the timed runs.
    private const int WarmupRuns = 20;
    private const int CreateParallelism = 8;
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public static async Task<ThroughputResult> RunAsync(BenchOptions options, int pass, int workers)
    {
        await using var server = await BenchServer.StartAsync(BenchServer.NewDataDir(options.DataRoot), workers);
        await CreateAndWaitAsync(server, WarmupRuns, "warmup");

        var clock = Stopwatch.StartNew();
        var ids = await CreateAndWaitAsync(server, options.Runs, "bench");
        var clientSeconds = clock.Elapsed.TotalSeconds;

        await server.StopAsync();
        var facts = await EventFacts.ReadAsync(server.DatabasePath, ids);
        return new ThroughputResult(pass, workers, options.Runs, facts, clientSeconds);
    }

    /// <summary>Creates <paramref name="count"/> runs through the API, a few at a time, and waits until all have finished.</summary>
    private static async Task<IReadOnlyCollection<string>> CreateAndWaitAsync(BenchServer server, int count, string project)
    {
        var ids = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = CreateParallelism }, async (i, ct) =>
        {
            var run = await server.Client.CreateRunAsync(new CreateRunRequest(BenchServer.StraightProfile, Intake(i), project), ct: ct);
            ids.Add(run.RunId);
        });

        // Polled through the API as any client would; the rate itself comes from the server's timestamps, so the
        // poll interval does not limit its precision.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var completed = (await server.Client.ListRunsAsync(status: "completed", project: project, limit: 1)).Total;
            var failed = (await server.Client.ListRunsAsync(status: "failed", project: project, limit: 1)).Total;
            if (completed + failed >= count)
            {
                return ids;
            }
            if (deadline.Elapsed > Timeout)
            {
                throw new TimeoutException($"only {completed + failed} of {count} runs finished within {Timeout}");
            }
            await Task.Delay(50);
        }
    }

    public static string Intake(int i) =>
        $"Benchmark run {i}: add a health endpoint to the billing service, with a test and a line in the changelog.";
}
