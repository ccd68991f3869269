using System.Diagnostics;

namespace Baton.Tests.Support;

/// <summary>
/// The tests' one polling wait, for what nothing tells a test of (a process gone, a file written, a row another node
/// wrote, a span exported): the condition is checked every <see cref="Interval"/>, up to a limit. A run's progress is
/// awaited on its event stream instead (<see cref="RunWaits"/>).
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>True as soon as the condition holds; false if it did not within the limit.</summary>
    public static async Task<bool> HoldsAsync(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var limit = within ?? DefaultLimit;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed >= limit)
            {
                return false;
            }
            await Task.Delay(Interval);
        }
        return true;
    }

    public static Task<bool> HoldsAsync(Func<bool> condition, TimeSpan? within = null) =>
        HoldsAsync(() => Task.FromResult(condition()), within);

    /// <summary>Fails the test, saying what it waited for, if the condition did not hold within the limit.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string waitedFor, TimeSpan? within = null)
    {
        if (!await HoldsAsync(condition, within))
        {
            Assert.Fail($"{waitedFor}: not within {within ?? DefaultLimit}");
        }
    }

    public static Task TrueAsync(Func<bool> condition, string waitedFor, TimeSpan? within = null) =>
        TrueAsync(() => Task.FromResult(condition()), waitedFor, within);
}
