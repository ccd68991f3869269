using System.Collections.Concurrent;

namespace Baton.Engine;

/// <summary>
/// The executions running on this node, by run, so that cancel can stop the work itself (and wait until it has
/// stopped) rather than only flip a status. Holds no durable state: a crash loses nothing here.
/// </summary>
public sealed class RunningExecutions
{
    private readonly ConcurrentDictionary<string, Handle> _byRun = new();

    /// <summary>Registers a run's execution; disposing the handle says it has stopped.</summary>
    public Handle Track(string runId)
    {
        var handle = new Handle(this, runId);
        _byRun[runId] = handle;
        return handle;
    }

    public bool IsRunning(string runId) => _byRun.ContainsKey(runId);

    /// <summary>How a stop reaches the node that runs the work (<see cref="ClusterSignals"/>); none on one node.</summary>
    public Action<string>? StopElsewhere { get; set; }

    /// <summary>
    /// Stops the run's (or standalone execution's) execution and waits (bounded) until it has stopped, when it runs on
    /// this node; otherwise asks the other nodes to stop it (<see cref="StopElsewhere"/>), without waiting.
    /// </summary>
    public async Task StopAsync(string runId, TimeSpan wait)
    {
        if (!_byRun.TryGetValue(runId, out var handle))
        {
            StopElsewhere?.Invoke(runId);
            return;
        }
        try
        {
            await handle.Cancel.CancelAsync();
            await handle.Stopped.WaitAsync(wait);
        }
        catch (ObjectDisposedException)
        {
            // It stopped on its own between the look-up and the cancel.
        }
        catch (TimeoutException)
        {
            // The cancel transaction removed the job, so the lease fence stops a late finisher from writing anything.
        }
    }

    public sealed class Handle(RunningExecutions owner, string runId) : IDisposable
    {
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenSource Cancel { get; } = new();

        public Task Stopped => _stopped.Task;

        public void Dispose()
        {
            owner._byRun.TryRemove(new KeyValuePair<string, Handle>(runId, this));
            _stopped.TrySetResult();
            Cancel.Dispose();
        }
    }
}
