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
    private static readonly TimeSpan MinTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(20);

    public static async Task<int> UntilJitSettlesAsync(Func<Task> round)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; ; i++)
        {
            var before = JitInfo.GetCompiledMethodCount();
            await round();
            // Tier-1 compiles run on a background thread after a short delay; give them a moment to show up.
            await Task.Delay(150);
            var compiled = JitInfo.GetCompiledMethodCount() - before;
            if ((clock.Elapsed >= MinTime && compiled < SettledMethods) || clock.Elapsed > MaxTime)
            {
                return i + 1;
            }
        }
    }
}
