using Baton.Client;
using Baton.Engine;

namespace Baton.Tests.Support;

public static class RunWaits
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Waits, on the run's live event stream rather than by sleeping, until the run satisfies the condition.
    /// </summary>
    public static async Task<RunDetail> WaitForAsync(this BatonClient client, string runId, Func<RunDetail, bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var run = await client.GetRunAsync(runId, timeout.Token);
        if (condition(run))
        {
            return run;
        }
        try
        {
            await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
            {
                run = await client.GetRunAsync(runId, timeout.Token);
                if (condition(run))
                {
                    return run;
                }
            }
            run = await client.GetRunAsync(runId, timeout.Token);
            if (condition(run))
            {
                return run;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
        }
        throw new Xunit.Sdk.XunitException($"run {runId} never became {what}; it is {run.Status} at {run.CurrentPhase} (iteration {run.Iteration}), error: {run.Error}");
    }

    /// <summary>
    /// Every event of a run finished for good (its stream ends then: completed, cancelled or expired; a failed run's
    /// stream stays open, as it may be retried: use <see cref="EventsUntilAsync"/>).
    /// </summary>
    public static async Task<List<RunEventInfo>> EventsOfAsync(this BatonClient client, string runId, long? lastEventId = null)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var events = new List<RunEventInfo>();
        await foreach (var e in client.StreamRunEventsAsync(runId, lastEventId, timeout.Token))
        {
            events.Add(e);
        }
        return events;
    }

    /// <summary>A run's events from its first up to the first of the given type, that one included.</summary>
    public static async Task<List<RunEventInfo>> EventsUntilAsync(this BatonClient client, string runId, string type)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var events = new List<RunEventInfo>();
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            events.Add(e);
            if (e.Type == type)
            {
                return events;
            }
        }
        throw new Xunit.Sdk.XunitException($"the event stream of run {runId} ended without a {type} event");
    }

    public static Task<RunDetail> WaitForStatusAsync(this BatonClient client, string runId, string status) =>
        client.WaitForAsync(runId, r => r.Status == status, status);

    public static Task<RunDetail> WaitForGateAsync(this BatonClient client, string runId, string phase, int iteration) =>
        client.WaitForAsync(runId, r => r.Status == "awaiting_approval" && r.CurrentPhase == phase && r.Iteration == iteration,
            $"awaiting approval at {phase} iteration {iteration}");

    /// <summary>Waits, woken by the engine's event signal rather than by sleeping, until the execution has ended.</summary>
    public static async Task<ExecutionInfo> WaitForExecutionEndAsync(this BatonClient client, string executionId, EngineSignals signals)
    {
        using var timeout = new CancellationTokenSource(Limit);
        while (true)
        {
            var wake = signals.Events.Current;
            var execution = await client.GetExecutionAsync(executionId, timeout.Token);
            if (execution.Status is "success" or "error" or "cancelled")
            {
                return execution;
            }
            await wake.WaitAsync(timeout.Token);
        }
    }
}
