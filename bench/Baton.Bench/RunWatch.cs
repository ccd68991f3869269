using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Client;

namespace Baton.Bench;

/// <summary>
/// Learns when runs finish and when their gates open from one stream of every run's events (GET /api/events), and
/// when each such event reached the client (a Stopwatch timestamp).
/// </summary>
/// <remarks>
/// The cheapest honest way to wait, for the server: its node already reads every new event once for all open streams
/// (EventFeed), so one more stream costs only writing the events out. A stream per run would cost a few reads of the
/// database per run (the run's existence, the key's expiry, its status on each batch), and polling each of 32 runs
/// would cost a read and a RunDetail per poll and blur the latency by the poll interval.
/// </remarks>
internal sealed class RunWatch : IAsyncDisposable
{
    private const string Finished = "finished";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<(string RunId, string What), TaskCompletionSource<Seen>> _seen = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private volatile Exception? _failure;

    /// <summary>An event as the client saw it: its type and when it arrived.</summary>
    public readonly record struct Seen(string Type, long Timestamp);

    private RunWatch(BatonClient client)
    {
        _reader = Task.Run(() => ReadAsync(client));
    }

    /// <summary>
    /// Watches from the server's first event on (Last-Event-ID 0), so that nothing created before the stream is open
    /// can be missed: open it on a fresh data dir, before the first run.
    /// </summary>
    public static RunWatch Open(BatonClient client) => new(client);

    /// <summary>Completes when the run has completed or failed (run.completed, run.failed, run.cancelled).</summary>
    public Task<Seen> FinishedAsync(string runId) => WaitAsync(runId, Finished);

    /// <summary>Completes when a gate of the run has opened (gate.opened).</summary>
    public Task<Seen> GateOpenedAsync(string runId) => WaitAsync(runId, "gate.opened");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reader;
        _stop.Dispose();
    }

    private async Task<Seen> WaitAsync(string runId, string what)
    {
        var key = (runId, what);
        var seen = Slot(key);
        if (_failure is { } failure)
        {
            seen.TrySetException(failure);
        }
        try
        {
            return await seen.Task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"run {runId}: no {what} event within {Timeout}");
        }
        finally
        {
            _seen.TryRemove(key, out _);
        }
    }

    private async Task ReadAsync(BatonClient client)
    {
        try
        {
            await foreach (var e in client.StreamAllEventsAsync(lastEventId: 0, _stop.Token))
            {
                var what = e.Type switch
                {
                    "run.completed" or "run.failed" or "run.cancelled" => Finished,
                    "gate.opened" => e.Type,
                    _ => null,
                };
                if (what is not null)
                {
                    Slot((e.RunId, what)).TrySetResult(new Seen(e.Type, Stopwatch.GetTimestamp()));
                }
            }
            throw new InvalidOperationException("the server ended the event stream");
        }
        catch (Exception e)
        {
            if (_stop.IsCancellationRequested)
            {
                return; // stopped on purpose; whatever the cancelled read threw says nothing
            }
            _failure = e;
            foreach (var waiting in _seen.Values)
            {
                waiting.TrySetException(e);
            }
        }
    }

    private TaskCompletionSource<Seen> Slot((string RunId, string What) key) =>
        _seen.GetOrAdd(key, _ => new TaskCompletionSource<Seen>(TaskCreationOptions.RunContinuationsAsynchronously));
}
