namespace Baton.Workspaces;

/// <summary>Cleans workspaces up: at start-up (orphans a crash left) and every hour (those past their TTL).</summary>
public sealed class WorkspaceJanitor(GitWorkspaces workspaces, BatonOptions options, TimeProvider time, ILogger<WorkspaceJanitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Role == BatonOptions.ApiRole)
        {
            // Workspaces live on the nodes that run the engine.
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            try
            {
                var removed = await workspaces.SweepAsync(options.WorkspaceTtl, stoppingToken);
                if (removed > 0)
                {
                    logger.LogInformation("Removed {Count} workspace(s)", removed);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Workspace clean-up failed; trying again in an hour");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
