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
    private readonly TestClock _clock = new(DateTimeOffset.UtcNow);
    private readonly BatonFactory _gated;

    public JobWakeTests()
    {
        _gated = new BatonFactory(clock: _clock, profiles: new Dictionary<string, string>
        {
            ["gated"] = """
                name: gated
                phases:
                  - name: plan
                    prompt: "{{intake}}"
                    gate:
                      timeout: 1h
                      on_timeout: expire
                """,
        });
        _gated.Settings["BATON_WORKERS"] = Workers.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_run_on_a_node_of_idle_workers_wakes_one_of_them()
    {
        var client = _factory.Client();
        var claims = _factory.Service<BatonMetrics>();
        await Eventually.TrueAsync(() => claims.Claims(found: false) >= Workers, "every worker looked once at start-up");
        var emptyBefore = claims.Claims(found: false);

        var run = await client.CreateRunAsync(new CreateRunRequest("planning_rail", "Mission: count the claims", "wake"));
        await client.WaitForStatusAsync(run.RunId, "completed");

        // One worker woke for the run and took every phase itself (each finish hands the next phase to it). At most
        // three looks found nothing: the woken worker's own (if another beat it to the job) and the one woken when the
        // run ended and its slot freed, and one the node's pacemaker woke when the signalled claim had not committed
        // after its grace (a loaded machine). Waking every worker made seven idle workers claim nothing, twice.
        Assert.Equal(1, claims.Claims(found: true));
        Assert.InRange(claims.Claims(found: false) - emptyBefore, 0, 3);
    }

    [Fact]
    public async Task A_job_that_comes_due_by_time_wakes_one_worker_and_idle_time_wakes_none()
    {
        var client = _gated.Client();
        var claims = _gated.Service<BatonMetrics>();
        var run = await client.CreateRunAsync(new CreateRunRequest("gated", "Mission: wait for the gate's deadline", "deadline"));
        await client.WaitForStatusAsync(run.RunId, "awaiting_approval");
        // The gate's deadline is a job due in an hour; the node's one timer sleeps at most the slow poll.
        await Eventually.TrueAsync(() => _clock.HasTimerDueIn(JobQueue.IdlePoll), "the node sleeps its slow poll");
        var (foundBefore, emptyBefore) = (claims.Claims(found: true), claims.Claims(found: false));

        _clock.Advance(TimeSpan.FromHours(1));
        await client.WaitForStatusAsync(run.RunId, "expired");

        // One worker woke for the deadline's job. Workers that each kept a timer of their own all woke, and all but
        // one found nothing (seven here). At most two empty looks are the phase's worker's last look racing the first read above.
        Assert.Equal(1, claims.Claims(found: true) - foundBefore);
        Assert.InRange(claims.Claims(found: false) - emptyBefore, 0, 2);
    }

    [Fact]
    public async Task A_gate_that_opens_wakes_no_worker_for_its_deadline_which_is_not_due()
    {
        var client = _gated.Client();
        var claims = _gated.Service<BatonMetrics>();
        await Eventually.TrueAsync(() => claims.Claims(found: false) >= Workers, "every worker looked once at start-up");
        var emptyBefore = claims.Claims(found: false);

        const int Runs = 5;
        for (var i = 0; i < Runs; i++)
        {
            var run = await client.CreateRunAsync(new CreateRunRequest("gated", $"Mission: open gate {i}", $"gate-{i}"));
            await client.WaitForStatusAsync(run.RunId, "awaiting_approval");
        }

        // Each run: one worker woke and ran its phase, then looked once more and found nothing (the last run's look may
        // come after its gate was seen open). Its gate's deadline, a job due in an hour, woke another worker too, which
        // found nothing either: two empty looks a run, nine to eleven here. One more may be the pacemaker's, when a
        // signalled claim had not committed after its grace (a loaded machine).
        Assert.Equal(Runs, claims.Claims(found: true));
        Assert.InRange(claims.Claims(found: false) - emptyBefore, Runs - 1, Runs + 1);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _gated.Dispose();
    }
}
