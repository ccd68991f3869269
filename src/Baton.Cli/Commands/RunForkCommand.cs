using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run fork`: a new run from one of a run's phases on, keeping what the phases before it produced.</summary>
public sealed class RunForkCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<string> _at = new("--at") { Description = "The phase the fork starts at; it keeps the artifacts of the phases before it, and its branch starts where this phase began", Required = true, HelpName = "phase" };
    private readonly IntakeOptions _intake = new("A new intake for the fork [default: the run's]");
    private readonly Option<bool> _watch = new("--watch", "-w") { Description = "Follow the fork until it completes or needs a human (exit codes as `baton run watch`)" };
    private readonly Option<bool> _json = JsonOption("the new run; with --watch, then one event per line");

    public RunForkCommand()
        : base("fork", "Start a new run from one of a run's phases on, keeping the earlier phases' artifacts.",
            "baton run fork run_01JD3X... --at implementation",
            "baton run fork run_01JD3X... --at design --intake-file prd-v2.md --watch",
            "baton run fork run_01JD3X... --at test --json | jq -r .run_id")
    {
        Arguments.Add(_run);
        Options.Add(_at);
        _intake.AddTo(this, required: false);
        Options.Add(_watch);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var parent = parseResult.GetValue(_run)!;
        var request = new ForkRunRequest(parseResult.GetValue(_at), await _intake.ReadAsync(parseResult, cancellationToken));
        // A fresh key per invocation, as `run create`: a retried request gets the same fork back.
        var run = await client.ForkRunAsync(parent, request, "cli-" + Guid.NewGuid().ToString("N"), cancellationToken);
        return await StartedRun.ReportAsync(Terminal.For(parseResult), client, run, parseResult.GetValue(_json), parseResult.GetValue(_watch),
            ["Forked ", new Piece(run.RunId, Tone.Bold), $" from {parent} at {run.ForkedAtPhase}: "], cancellationToken);
    }
}
