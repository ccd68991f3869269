using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton run watch` and `run create --watch`: follow a run until it completes or needs a human, and say how it stopped.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class RunWatchTests(SharedServer shared)
{
    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    private static string RunIdIn(string stdout) => System.Text.RegularExpressions.Regex.Match(stdout, "run_[0-9a-z]+").Value;

    [Fact]
    public async Task Follows_a_run_to_its_gate_exits_6_and_after_approval_to_completion_with_0()
    {
        var atGate = (await Baton("run", "create", "-p", "software_delivery", "--intake", "# Dark mode", "--watch")).ExitsWith(ExitCodes.AwaitingApproval);
        var runId = RunIdIn(atGate.Stdout);

        Assert.Equal("", atGate.Stderr);
        Assert.Matches("discovery +started \\(iteration 1\\)", atGate.Stdout);
        Assert.Matches("discovery +\\+ prd\\.md", atGate.Stdout);
        Assert.Matches("discovery +completed in ", atGate.Stdout);
        Assert.Matches("design +awaits approval", atGate.Stdout);
        Assert.Contains($"Run {runId} awaits approval at design.", atGate.Stdout, StringComparison.Ordinal);
        Assert.Contains($"baton run approve {runId}", atGate.Stdout, StringComparison.Ordinal);
        Assert.Contains($"baton run reject {runId} --feedback TEXT", atGate.Stdout, StringComparison.Ordinal);

        // Watching a run that already waits tells its story so far and answers with the same code.
        var stillWaiting = (await Baton("run", "watch", runId)).ExitsWith(ExitCodes.AwaitingApproval);
        Assert.StartsWith($"Watching {runId} (software_delivery, auto mode): awaiting_approval at design (gate)", stillWaiting.Stdout, StringComparison.Ordinal);
        Assert.Matches("discovery +completed in ", stillWaiting.Stdout);
        Assert.Contains($"Run {runId} awaits approval at design.", stillWaiting.Stdout, StringComparison.Ordinal);

        (await Baton("run", "approve", runId, "--comment", "ship it")).Succeeds();
        var done = (await Baton("run", "watch", runId)).Succeeds();

        Assert.Matches("design +approved by local-admin: \"ship it\"", done.Stdout);
        Assert.Matches("implementation +completed", done.Stdout);
        Assert.Matches("document +completed", done.Stdout);
        Assert.EndsWith($"Run {runId} completed.", done.Stdout.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_rejection_watch_shows_the_feedback_and_the_new_iteration()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "# Search"));
        var first = (await Baton("run", "watch", run.RunId)).ExitsWith(ExitCodes.AwaitingApproval);
        Assert.Matches("design +awaits approval", first.Stdout);

        (await Baton("run", "reject", run.RunId, "--feedback", "Add fuzzy matching")).Succeeds();
        var second = (await Baton("run", "watch", run.RunId)).ExitsWith(ExitCodes.AwaitingApproval);

        Assert.Matches("design +rejected by local-admin, back to design: \"Add fuzzy matching\"", second.Stdout);
        Assert.Contains("iteration 2 starts at design", second.Stdout, StringComparison.Ordinal);
        Assert.Matches("design +started \\(iteration 2\\)", second.Stdout);
    }

    [Fact]
    public async Task A_manual_run_exits_7_when_it_pauses_and_says_to_run_next()
    {
        var paused = (await Baton("run", "create", "-p", "planning_rail", "--intake", "x", "--mode", "manual", "--watch")).ExitsWith(ExitCodes.Paused);
        var runId = RunIdIn(paused.Stdout);

        Assert.Contains($"Run {runId} is paused after parse (manual mode).", paused.Stdout, StringComparison.Ordinal);
        Assert.Contains($"baton run next {runId}", paused.Stdout, StringComparison.Ordinal);
        var next = (await Baton("run", "next", runId)).Succeeds();
        Assert.StartsWith($"Moved on {runId}: now ", next.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_run_exits_8_and_says_it_can_be_retried()
    {
        var failed = (await Baton("run", "create", "-p", SharedServer.FailingProfile, "--intake", "x", "--watch")).ExitsWith(ExitCodes.RunUnsuccessful);
        var runId = RunIdIn(failed.Stdout);

        Assert.Matches("draft +checks failed", failed.Stdout);
        Assert.Contains($"Run {runId} failed: ", failed.Stdout, StringComparison.Ordinal);
        Assert.Contains($"baton run retry {runId}", failed.Stdout, StringComparison.Ordinal);

        // A failed run's event stream stays open (it may be retried): watching it later still ends, at its run.failed.
        var again = (await Baton("run", "watch", runId)).ExitsWith(ExitCodes.RunUnsuccessful);
        Assert.Contains($"Run {runId} failed: ", again.Stdout, StringComparison.Ordinal);

        // Retried and failed again: watching it replays both attempts, not just up to the first failure.
        (await Baton("run", "retry", runId)).Succeeds();
        var second = (await Baton("run", "watch", runId)).ExitsWith(ExitCodes.RunUnsuccessful);
        Assert.Contains("retried", second.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(second.Stdout, "draft +checks failed").Count);
        Assert.EndsWith("(resumes at the failed phase)", second.Stdout.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_run_exits_8()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "x"));
        (await Baton("run", "cancel", run.RunId, "--reason", "not needed")).Succeeds();

        var result = (await Baton("run", "watch", run.RunId)).ExitsWith(ExitCodes.RunUnsuccessful);

        Assert.EndsWith($"Run {run.RunId} cancelled.", result.Stdout.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_json_prints_one_event_per_line()
    {
        var created = (await Baton("run", "create", "-p", "planning_rail", "--intake", "x", "--watch", "--json")).Succeeds();

        var lines = created.Stdout.TrimEnd().Split('\n');
        var run = JsonSerializer.Deserialize<RunDetail>(lines[0], BatonJson.Options)!;
        var events = lines.Skip(1).Select(l => JsonSerializer.Deserialize<RunEventInfo>(l, BatonJson.Options)!).ToList();
        Assert.All(events, e => Assert.Equal(run.RunId, e.RunId));
        Assert.Equal("run.created", events[0].Type);
        Assert.Equal("run.completed", events[^1].Type);
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
    }
}
