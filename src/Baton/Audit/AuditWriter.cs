using Baton.Storage;

namespace Baton.Audit;

/// <summary>
/// Appends the audit log's entries, many to a write: an entry waits for the write in flight, if there is one, and then
/// goes with every entry queued meanwhile (up to <see cref="MaxBatch"/>). Under load the requests of a moment share one
/// write instead of taking one each (on SQLite a place in the one writer's queue, on PostgreSQL a transaction), and
/// each entry has still committed when its task completes.
/// </summary>
public sealed class AuditWriter(Database db)
{
    /// <summary>Most entries one write takes: bounds its transaction when a backlog has built up.</summary>
    public const int MaxBatch = 256;

    private readonly Lock _lock = new();
    private readonly Queue<(AuditRow Row, TaskCompletionSource Done)> _queued = new();
    private bool _writing;

    /// <summary>Completes once the entry has committed; faults with the write's error if it could not be written.</summary>
    public Task AppendAsync(AuditRow row)
    {
        // Its caller goes on elsewhere: the next batch's write must not wait for a request's last steps.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_lock)
        {
            _queued.Enqueue((row, done));
            start = !_writing;
            _writing = true;
        }
        if (start)
        {
            _ = WriteQueuedAsync();
        }
        return done.Task;
    }

    private async Task WriteQueuedAsync()
    {
        while (true)
        {
            var batch = new List<(AuditRow Row, TaskCompletionSource Done)>();
            lock (_lock)
            {
                while (batch.Count < MaxBatch && _queued.TryDequeue(out var entry))
                {
                    batch.Add(entry);
                }
                if (batch.Count == 0)
                {
                    _writing = false;
                    return;
                }
            }
            try
            {
                await db.WriteAsync(async (c, tx) =>
                {
                    foreach (var (row, _) in batch)
                    {
                        await AuditStore.AppendAsync(c, tx, row);
                    }
                }, CancellationToken.None);
                batch.ForEach(e => e.Done.TrySetResult());
            }
            catch (Exception ex)
            {
                // Each request reports its own entry's failure (AuditLog logs it); the next batch is tried all the same.
                batch.ForEach(e => e.Done.TrySetException(ex));
            }
        }
    }
}
