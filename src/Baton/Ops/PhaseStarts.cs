using System.Collections.Concurrent;

namespace Baton.Ops;

/// <summary>
/// When each phase this node started began, by run: the start of the phase duration histogram. Kept by run, so that a
/// run's end forgets its open phases in one step. (One dictionary keyed by run, phase and iteration had to be walked
/// whole at every run's end: 1.2 % of the load harness's server CPU with the phases of its queued runs in it.)
/// </summary>
/// <param name="maxRuns">
/// With several nodes a phase queued here may end on another node, and its start would stay here for good: past this
/// many runs, the starts are forgotten (those phases' durations go unrecorded) instead of growing.
/// </param>
internal sealed class PhaseStarts(int maxRuns)
{
    /// <summary>A run's open phases: one, mostly, so an array replaced whole on each change.</summary>
    private readonly ConcurrentDictionary<string, Start[]> _byRun = new(StringComparer.Ordinal);

    // ConcurrentDictionary.Count takes every lock: a count of its own instead.
    private int _runs;

    private readonly record struct Start(string Phase, int Iteration, long At);

    /// <summary>Runs with an open phase.</summary>
    public int Runs => Volatile.Read(ref _runs);

    /// <summary>Records that <paramref name="phase"/> started at <paramref name="at"/>; an earlier start of it stays.</summary>
    public void Started(string runId, string phase, int iteration, long at)
    {
        if (Volatile.Read(ref _runs) >= maxRuns)
        {
            _byRun.Clear();
            Volatile.Write(ref _runs, 0);
        }
        var start = new Start(phase, iteration, at);
        while (true)
        {
            if (!_byRun.TryGetValue(runId, out var open))
            {
                if (_byRun.TryAdd(runId, [start]))
                {
                    Interlocked.Increment(ref _runs);
                    return;
                }
            }
            else if (IndexOf(open, phase, iteration) >= 0
                     || _byRun.TryUpdate(runId, [.. open, start], open))
            {
                return;
            }
        }
    }

    /// <summary>When <paramref name="phase"/> started, forgetting it; null when this node holds no start of it.</summary>
    public long? Ended(string runId, string phase, int iteration)
    {
        while (_byRun.TryGetValue(runId, out var open))
        {
            var i = IndexOf(open, phase, iteration);
            if (i < 0)
            {
                return null;
            }
            if (open.Length == 1
                ? _byRun.TryRemove(KeyValuePair.Create(runId, open))
                : _byRun.TryUpdate(runId, [.. open[..i], .. open[(i + 1)..]], open))
            {
                if (open.Length == 1)
                {
                    Interlocked.Decrement(ref _runs);
                }
                return open[i].At;
            }
        }
        return null;
    }

    private static int IndexOf(Start[] open, string phase, int iteration)
    {
        for (var i = 0; i < open.Length; i++)
        {
            if (open[i].Phase == phase && open[i].Iteration == iteration)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>A run that ended with a phase open (a cancel) leaves no start behind.</summary>
    public void Forget(string runId)
    {
        if (_byRun.TryRemove(runId, out _))
        {
            Interlocked.Decrement(ref _runs);
        }
    }
}
