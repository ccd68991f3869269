using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

/// <summary>
/// The `nodes` table: each worker node's last sign of life (Unix ms), which tells a run pinned to a node (its
/// workspace is on that node's disk, ADR 26) whether the node is gone.
/// </summary>
public static class NodeStore
{
    /// <summary>A node silent this long is gone: two lease lengths, so one missed renewal is not taken for a death.</summary>
    public static readonly TimeSpan GoneAfter = JobQueue.LeaseDuration * 2;

    public static Task BeatAsync(IDbConnection c, IDbTransaction tx, string node, long now) =>
        c.ExecuteAsync(
            """
            INSERT INTO nodes(id, heartbeat_at, started_at) VALUES (@node, @now, @now)
            ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """, new { node, now }, tx);

    /// <summary>
    /// The node the waiting work of the run @runId is pinned to, when that node is gone (no heartbeat since @goneBefore,
    /// <see cref="GoneBefore"/>, or none ever); no row when the run waits for no node. Several writers only: on SQLite
    /// the one process that owns the file is every node there is. Read in a batch with the rest of a run's detail.
    /// </summary>
    public const string WaitedFor = """
        SELECT j.pinned_node FROM jobs j LEFT JOIN nodes n ON n.id = j.pinned_node
        WHERE j.run_id = @runId AND j.pinned_node IS NOT NULL AND (n.heartbeat_at IS NULL OR n.heartbeat_at < @goneBefore)
        ORDER BY j.id LIMIT 1
        """;

    /// <summary>The heartbeat before which a node is gone, as of <paramref name="now"/> (Unix ms): two lease lengths.</summary>
    public static long GoneBefore(DateTimeOffset now) => (now - GoneAfter).ToMs();
}
