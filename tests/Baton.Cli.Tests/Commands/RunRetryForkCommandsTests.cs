using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton run retry --from` and `baton run fork --at` against a real `baton up` (ADR 38).</summary>
[Collection(SharedServerCollection.Name)]
public sealed class RunRetryForkCommandsTests(SharedServer shared)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    /// <summary>A software_delivery run cancelled at its design gate: discovery and design ran.</summary>
    private async Task<RunDetail> CancelledAtDesignAsync()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "# Dark mode\nFollow the OS theme.", "cli-fork"));
        await WaitAsync(run.RunId, r => r.Status == "awaiting_approval");
        return await shared.Admin.CancelAsync(run.RunId, "changed our minds");
    }

    private async Task<RunDetail> WaitAsync(string runId, Func<RunDetail, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var run = await shared.Admin.GetRunAsync(runId, timeout.Token);
        while (!condition(run))
        {
            await Task.Delay(50, timeout.Token);
            run = await shared.Admin.GetRunAsync(runId, timeout.Token);
        }
        return run;
    }

    [Fact]
    public async Task Retry_from_an_earlier_phase_goes_on_as_a_new_iteration_there()
    {
        var run = await CancelledAtDesignAsync();

        var result = (await Baton("run", "retry", run.RunId, "--from", "discovery")).Succeeds();

        Assert.Contains($"Retried {run.RunId}: now ", result.Stdout, StringComparison.Ordinal);
        var again = await WaitAsync(run.RunId, r => r is { Status: "awaiting_approval", Iteration: 2 });
        Assert.Contains(again.Phases, p => p is { Name: "discovery", Iteration: 2, Status: "completed" });
        await shared.Admin.CancelAsync(run.RunId);
    }

    [Fact]
    public async Task Retry_from_a_phase_after_the_stop_exits_2_naming_it()
    {
        var run = await CancelledAtDesignAsync();

        var line = (await Baton("run", "retry", run.RunId, "--from", "document")).FailsWithOneLine(ExitCodes.Usage);

        Assert.Contains("'document' comes after 'design', where the run stopped", line, StringComparison.Ordinal);
        Assert.Equal("cancelled", (await shared.Admin.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task Fork_json_prints_the_new_run_with_its_parent_and_takes_an_intake_file()
    {
        var run = await CancelledAtDesignAsync();
        var intake = Path.Combine(shared.Folder, "fork-intake.md");
        await File.WriteAllTextAsync(intake, "# Dark mode, take two\nAlso high contrast.");

        var result = (await Baton("run", "fork", run.RunId, "--at", "design", "--intake-file", intake, "--json")).Succeeds();

        using var json = JsonDocument.Parse(result.Stdout);
        var fork = json.RootElement;
        Assert.Equal(run.RunId, fork.GetProperty("parent_run_id").GetString());
        Assert.Equal("design", fork.GetProperty("forked_at_phase").GetString());
        Assert.Equal("# Dark mode, take two\nAlso high contrast.", fork.GetProperty("intake").GetString());
        var forkId = fork.GetProperty("run_id").GetString()!;
        var artifacts = await shared.Admin.ListArtifactsAsync(forkId);
        Assert.Contains(artifacts.Phases, p => p.Phase == "discovery");
        await WaitAsync(forkId, r => r.Status == "awaiting_approval");
        await shared.Admin.CancelAsync(forkId);
    }

    [Fact]
    public async Task Fork_says_what_it_made_and_refuses_a_phase_the_run_never_reached()
    {
        var run = await CancelledAtDesignAsync();

        var made = (await Baton("run", "fork", run.RunId, "--at", "discovery")).Succeeds();
        Assert.Matches($"^Forked run_\\S+ from {run.RunId} at discovery: ", made.Stdout);
        Assert.Contains("Follow it: baton run watch run_", made.Stdout, StringComparison.Ordinal);
        var forkId = made.Stdout.Split(' ')[1];
        var shown = (await Baton("run", "show", forkId)).Succeeds();
        Assert.Contains($"Forked:    from {run.RunId} at discovery", shown.Stdout, StringComparison.Ordinal);

        var line = (await Baton("run", "fork", run.RunId, "--at", "document")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("'document' never ran in run", line, StringComparison.Ordinal);
        var missing = (await Baton("run", "fork", "run_does_not_exist", "--at", "design")).FailsWithOneLine(ExitCodes.NotFound);
        Assert.Equal("error: Not found (404): no run 'run_does_not_exist'", missing);
        var usage = (await Baton("run", "fork", run.RunId, "--at", "design", "--intake", "a", "--intake-file", "b")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("give the intake once", usage, StringComparison.Ordinal);
    }
}
