using Baton.Client;
using Baton.Engine;
using Baton.Ops;
using Baton.Tests.Support;

namespace Baton.Tests.Engine;

/// <summary>A new job wakes one idle worker, not all of them: every woken worker runs a claim, and a claim is a write.</summary>
public sealed class JobWakeTests : IDisposable
{
    private const int Workers = 8;
    private readonly BatonFactory _factory = new() { Settings = { ["BATON_WORKERS"] = Workers.ToString(System.Globalization.CultureInfo.InvariantCulture) } };

    [Fact]
    public async Task A_run_on_a_node_of_idle_workers_wakes_one_of_them()
    {
        var client = _factory.Client();
        var claims = _factory.Service<NodeMetrics>().JobClaims;
        // Every worker looks once at start-up, finds nothing and goes to sleep.
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (claims.Value(JobQueue.EmptyClaim) < Workers)
            {
                await Task.Delay(20, limit.Token);
            }
        }
        var emptyBefore = claims.Value(JobQueue.EmptyClaim);

        var run = await client.CreateRunAsync(new CreateRunRequest("planning_rail", "Mission: count the claims", "wake"));
        await client.WaitForStatusAsync(run.RunId, "completed");

        // One worker woke for the run and took every phase itself (each finish hands the next phase to it). At most
        // two looks found nothing: the woken worker's own (if another beat it to the job) and the one woken when the
        // run ended and its slot freed. Waking every worker made seven idle workers claim nothing, twice.
        Assert.Equal(1, claims.Value(JobQueue.FoundClaim));
        Assert.InRange(claims.Value(JobQueue.EmptyClaim) - emptyBefore, 0, 2);
    }

    public void Dispose() => _factory.Dispose();
}
