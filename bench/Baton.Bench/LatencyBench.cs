using System.Diagnostics;
using Baton.Client;

namespace Baton.Bench;

internal sealed record LatencyResult(
    int Pass,
    int Workers,
    int Runs,
    Distribution Hook,
    Distribution Events,
    Distribution PhaseService,
    Distribution CreateToFirstStart,
    string? Problem);

/// <summary>
/// Part 2: wake-up latency without queueing. Runs are created one at a time on an otherwise idle server; for each
/// pair of consecutive phases it measures phase N finished (committed) → phase N+1 started (committed).
/// </summary>
internal static class LatencyBench
{
    private const int WarmupRuns = 10;

    // Long enough for every worker to have found nothing to claim and gone back to sleep.
    private static readonly TimeSpan IdleGap = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    private sealed record Window(string RunId, long Sent, int From, int To);

    public static async Task<LatencyResult> RunAsync(BenchOptions options, int pass)
    {
        var workers = options.LatencyWorkers;
        await using var server = await BenchServer.StartAsync(BenchServer.NewDataDir(options.DataRoot), workers, options.WatchedDataDir);
        await Warmup.UntilJitSettlesAsync(() => TransitionsBench.CreateAndWaitAsync(server, 20, "warmup", options.IntakeBytes));
        var marks = server.Marks;
        string? problem = null;
        var windows = new List<Window>();

        for (var i = 0; i < WarmupRuns + options.SequentialRuns; i++)
        {
            await Task.Delay(IdleGap);
            var from = marks.Count;
            var target = marks.Finished + BenchServer.StraightPhases;
            var sent = Stopwatch.GetTimestamp();
            var run = await server.Client.CreateRunAsync(new CreateRunRequest(BenchServer.StraightProfile, TransitionsBench.Intake(i, options.IntakeBytes), "latency"));
            if (problem is null)
            {
                try
                {
                    await marks.WhenFinishedAsync(target, RunTimeout);
                }
                catch (TimeoutException)
                {
                    problem = "the Stopwatch hook saw no phase executions finish (PhaseExecutor no longer arms a lease-renewal " +
                              "timer through TimeProvider?); only the millisecond events table is reported";
                }
            }
            if (problem is not null)
            {
                await PollUntilFinishedAsync(server.Client, run.RunId);
            }
            if (i >= WarmupRuns)
            {
                windows.Add(new Window(run.RunId, sent, from, marks.Count));
            }
        }

        var wake = new List<double>();
        var service = new List<double>();
        var firstStart = new List<double>();
        var odd = 0;
        foreach (var w in windows.Where(_ => problem is null))
        {
            var m = marks.Snapshot(w.From, w.To);
            // One run at a time, so its marks must alternate start, finish, start, finish ...; anything else is
            // left out rather than guessed at.
            if (m.Count != 2 * BenchServer.StraightPhases || m.Where((mark, k) => mark.Start != (k % 2 == 0)).Any())
            {
                odd++;
                continue;
            }
            firstStart.Add(Stopwatch.GetElapsedTime(w.Sent, m[0].Timestamp).TotalMilliseconds);
            for (var k = 0; k < m.Count; k += 2)
            {
                service.Add(Stopwatch.GetElapsedTime(m[k].Timestamp, m[k + 1].Timestamp).TotalMilliseconds);
                if (k + 2 < m.Count)
                {
                    wake.Add(Stopwatch.GetElapsedTime(m[k + 1].Timestamp, m[k + 2].Timestamp).TotalMilliseconds);
                }
            }
        }
        if (odd > 0 && problem is null)
        {
            problem = $"{odd} of {windows.Count} runs had an unexpected sequence of phase marks and were left out of the Stopwatch numbers";
        }

        await server.StopAsync();
        var facts = await EventFacts.ReadAsync(server.DatabasePath, windows.Select(w => w.RunId).ToList());
        return new LatencyResult(pass, workers, windows.Count, Distribution.Of(wake), facts.Wake, Distribution.Of(service),
            Distribution.Of(firstStart), problem);
    }

    private static async Task PollUntilFinishedAsync(BatonClient client, string runId)
    {
        var clock = Stopwatch.StartNew();
        while ((await client.GetRunAsync(runId)).Status is not ("completed" or "failed"))
        {
            if (clock.Elapsed > RunTimeout)
            {
                throw new TimeoutException($"run {runId} did not finish within {RunTimeout}");
            }
            await Task.Delay(10);
        }
    }
}
