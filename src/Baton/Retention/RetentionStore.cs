using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Retention;

/// <summary>What retention deletes of a finished run, and the mark that it did (<c>runs.retained_at</c>). Times are Unix ms.</summary>
public static class RetentionStore
{
    /// <summary>Up to <paramref name="limit"/> runs finished for good before <paramref name="before"/> and not retained yet, oldest first.</summary>
    public static async Task<IReadOnlyList<string>> DueAsync(IDbConnection c, long before, int limit) =>
        (await c.QueryAsync<string>(
            """
            SELECT id FROM runs
            WHERE retained_at IS NULL AND completed_at IS NOT NULL AND completed_at < @before
              AND status IN ('completed', 'cancelled', 'expired')
            ORDER BY completed_at LIMIT @limit
            """, new { before, limit })).AsList();

    /// <summary>
    /// Marks the run retained, if no one did: the fence of a purge (another node's pass, or a concurrent gc, takes
    /// each run once). False when it was already retained or is not finished for good.
    /// </summary>
    public static async Task<bool> MarkAsync(IDbConnection c, IDbTransaction tx, string runId, long now) =>
        await c.ExecuteAsync(
            "UPDATE runs SET retained_at = @now WHERE id = @runId AND retained_at IS NULL AND status IN ('completed', 'cancelled', 'expired')",
            new { runId, now }, tx) == 1;

    /// <summary>Deletes the run's events (log lines included); returns how many, and their data's size in bytes.</summary>
    public static async Task<(long Count, long Bytes)> DeleteEventsAsync(IDbConnection c, IDbTransaction tx, string runId)
    {
        var (count, bytes) = await c.QuerySingleAsync<(long, long?)>(
            "SELECT COUNT(*), SUM(LENGTH(CAST(data AS TEXT))) FROM events WHERE run_id = @runId", new { runId }, tx);
        await c.ExecuteAsync("DELETE FROM events WHERE run_id = @runId", new { runId }, tx);
        return (count, bytes ?? 0);
    }

    /// <summary>Deletes the run's artifacts; returns how many, and the blobs they named (others' artifacts may share them).</summary>
    public static async Task<(long Count, IReadOnlyList<string> Blobs)> DeleteArtifactsAsync(IDbConnection c, IDbTransaction tx, string runId)
    {
        var blobs = (await c.QueryAsync<string>("SELECT DISTINCT sha256 FROM artifacts WHERE run_id = @runId", new { runId }, tx)).AsList();
        var count = await c.ExecuteAsync("DELETE FROM artifacts WHERE run_id = @runId", new { runId }, tx);
        return (count, blobs);
    }

    /// <summary>
    /// Deletes those of <paramref name="candidates"/> no artifact names any more; returns how many and their bytes. On
    /// PostgreSQL the blobs table is locked first: a writer between its blob's insert (which found the blob and did
    /// nothing) and its artifact's would otherwise lose the blob under it; it now waits, then inserts it anew.
    /// </summary>
    public static async Task<(long Count, long Bytes)> DeleteOrphanBlobsAsync(IDbConnection c, IDbTransaction tx, IReadOnlyList<string> candidates)
    {
        if (candidates.Count == 0)
        {
            return (0, 0);
        }
        if (!SqlDialect.Of(c).SingleWriter)
        {
            await c.ExecuteAsync("LOCK TABLE blobs IN EXCLUSIVE MODE", transaction: tx);
        }
        var orphans = (await c.QueryAsync<(string Sha256, long Size)>(
            $"SELECT b.sha256, b.size FROM blobs b WHERE {SqlDialect.Of(c).In("b.sha256", "@candidates")} AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = b.sha256)",
            new { candidates }, tx)).AsList();
        if (orphans.Count > 0)
        {
            await c.ExecuteAsync($"DELETE FROM blobs WHERE {SqlDialect.Of(c).In("sha256", "@orphans")}", new { orphans = orphans.Select(o => o.Sha256).ToList() }, tx);
        }
        return (orphans.Count, orphans.Sum(o => o.Size));
    }
}
