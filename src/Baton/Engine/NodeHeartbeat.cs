using Baton.Storage;

namespace Baton.Engine;

/// <summary>
/// Renews this node's heartbeat in `nodes` at lease-renewal cadence while it runs the engine with other nodes
/// (PostgreSQL): a run whose workspace is on this node's disk waits for it, and says so once the heartbeat is old.
/// </summary>
public sealed class NodeHeartbeat(Database db, NodeIdentity node, EngineOptions engine, TimeProvider time, ILogger<NodeHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!engine.Enabled || db.Dialect.SingleWriter)
        {
            return;
        }
        using var every = new PeriodicTimer(LeaseKeeper.RenewEvery, time);
        try
        {
            do
            {
                try
                {
                    await db.WriteAsync((c, tx) => NodeStore.BeatAsync(c, tx, node.Id, time.GetUtcNow().ToMs()), stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database away: the next beat tries again (two lease lengths of silence before anyone cares).
                    logger.LogWarning(ex, "Could not renew node {Node}'s heartbeat; trying again", node.Id);
                }
            }
            while (await every.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
