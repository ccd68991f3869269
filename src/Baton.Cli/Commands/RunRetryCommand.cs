using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run retry`: a failed or cancelled run goes on as a new iteration, where it stopped or from an earlier phase.</summary>
public sealed class RunRetryCommand : RunActionCommand
{
    private readonly Option<string> _from = new("--from")
    {
        Description = "Go back to this earlier phase: the workspace is reset to the commit it started from, discarding the later phases' work [default: the phase where the run stopped]",
        HelpName = "phase",
    };

    public RunRetryCommand()
        : base("retry", "Resume a failed or cancelled run as a new iteration, at the phase where it stopped or an earlier one.",
            "baton run retry run_01JD3X...",
            "baton run retry run_01JD3X... --from design",
            "baton run retry run_01JD3X... --json | jq -r .status")
    {
        Options.Add(_from);
        AddSharedOptions();
    }

    protected override string Done => "Retried";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.RetryAsync(runId, new RetryRequest(parseResult.GetValue(_from)), version, cancellationToken);
}
