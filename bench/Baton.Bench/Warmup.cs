using System.Diagnostics;
using System.Runtime;

namespace Baton.Bench;

/// <summary>
/// Repeats a warm-up round for a few seconds and until tiered compilation has settled. A fresh process keeps
/// re-compiling hot methods (tier 0 → instrumented → tier 1) for several seconds; on two cores that background JIT
/// took a third of the CPU in the middle of a 15 s run, which would be measured as Baton's cost. A long-running
/// server has none of it. The method count alone is not enough: tier-1 promotion waits until no new tier-0
/// methods appear for a while, so an early quiet round can come before the bulk of it.
/// </summary>
internal static class Warmup
{
    private const int SettledMethods = 25;

    /// <summary>A round that costs at least 90 % of the one before has stopped getting cheaper.</summary>
    private const double SettledCostRatio = 0.9;

    private static readonly TimeSpan MinTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(20);

    /// <summary>For a server in this process: until a round compiles fewer than a few methods.</summary>
    public static Task<int> UntilJitSettlesAsync(Func<Task> round) =>
        RepeatAsync(async () =>
        {
            var before = JitInfo.GetCompiledMethodCount();
            await round();
            // Tier-1 compiles run on a background thread after a short delay; give them a moment to show up.
            await Task.Delay(150);
            return JitInfo.GetCompiledMethodCount() - before < SettledMethods;
        });

    /// <summary>
    /// For a server in another process, whose JIT this process cannot see: until a round's cost (the server's CPU
    /// time per run, which its background compiles are part of) stops falling and the server is at rest between
    /// rounds (<paramref name="atRest"/>): a profile showed tier-1 compiles still taking 30 % of the server's CPU
    /// after the cost alone looked settled.
    /// </summary>
    public static Task<int> UntilCostSettlesAsync(Func<Task<double>> round, Func<Task<bool>> atRest)
    {
        var previous = double.NaN;
        return RepeatAsync(async () =>
        {
            var cost = await round();
            var settled = cost >= SettledCostRatio * previous && await atRest();
            previous = cost;
            return settled;
        }, MaxTimeOutOfProcess);
    }

    /// <summary>Tier-1 compiles of a server under load take longer than in this process's own rounds.</summary>
    private static readonly TimeSpan MaxTimeOutOfProcess = TimeSpan.FromSeconds(90);

    private static async Task<int> RepeatAsync(Func<Task<bool>> settledRound, TimeSpan? maxTime = null)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; ; i++)
        {
            var settled = await settledRound();
            if ((clock.Elapsed >= MinTime && settled) || clock.Elapsed > (maxTime ?? MaxTime))
            {
                return i + 1;
            }
        }
    }
}
