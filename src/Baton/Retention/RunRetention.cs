using Baton.Client;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Retention;

/// <summary>
/// Deletes the events (log lines included), artifacts and no longer shared artifact blobs of runs finished for good
/// (completed, cancelled, expired) before a cutoff. Each run's row, phases, executions and intake stay, so lists and
/// metrics still show it; a <c>retention.applied</c> event, its only one left, says what went. One transaction per
/// run, fenced by its <c>retained_at</c> mark, so nodes and a concurrent <c>baton gc</c> take each run once. A failed
/// run is kept: it may still be retried, which needs its artifacts.
/// </summary>
public sealed class RunRetention(Database db, TimeProvider time)
{
    private const int Batch = 100;

    public async Task<GcResult> ApplyAsync(TimeSpan olderThan, CancellationToken ct)
    {
        var cutoff = time.GetUtcNow() - olderThan;
        var total = new GcResult(0, 0, 0, 0, 0);
        while (!ct.IsCancellationRequested)
        {
            var due = await db.ReadAsync(c => RetentionStore.DueAsync(c, cutoff.ToMs(), Batch), ct);
            foreach (var runId in due)
            {
                total = total.Add(await PurgeAsync(runId, ct));
            }
            if (due.Count < Batch)
            {
                break;
            }
        }
        return total;
    }

    private Task<GcResult> PurgeAsync(string runId, CancellationToken ct) =>
        db.WriteAsync(async (c, tx) =>
        {
            var now = time.GetUtcNow();
            if (!await RetentionStore.MarkAsync(c, tx, runId, now.ToMs()))
            {
                return new GcResult(0, 0, 0, 0, 0);
            }
            var (events, eventBytes) = await RetentionStore.DeleteEventsAsync(c, tx, runId);
            var (artifacts, blobs) = await RetentionStore.DeleteArtifactsAsync(c, tx, runId);
            var (blobsDeleted, blobBytes) = await RetentionStore.DeleteOrphanBlobsAsync(c, tx, blobs);
            var result = new GcResult(1, events, artifacts, blobsDeleted, eventBytes + blobBytes);
            var marker = new EventBatch();
            marker.Add(runId, new RunEvent("retention.applied", null, null, "retention", new Dictionary<string, object?>
            {
                ["events_deleted"] = events,
                ["artifacts_deleted"] = artifacts,
                ["blobs_deleted"] = blobsDeleted,
                ["bytes_freed"] = result.BytesFreed,
            }), now);
            await marker.WriteAsync(c, tx);
            return result;
        }, ct);
}

/// <summary>Runs retention on a schedule when BATON_RETENTION is set: at start-up, then hourly.</summary>
public sealed class RetentionJanitor(RunRetention retention, BatonOptions options, TimeProvider time, ILogger<RetentionJanitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Retention is not { } keep)
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            try
            {
                var freed = await retention.ApplyAsync(keep, stoppingToken);
                if (freed.Runs > 0)
                {
                    logger.LogInformation("Retention: {Runs} run(s) older than {Keep}, {Events} events, {Artifacts} artifacts, {Bytes} bytes freed",
                        freed.Runs, Profiles.Durations.Format(keep), freed.EventsDeleted, freed.ArtifactsDeleted, freed.BytesFreed);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Retention failed; trying again in an hour");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
