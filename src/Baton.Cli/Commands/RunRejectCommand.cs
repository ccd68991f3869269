using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run reject`: sends a gated phase back with feedback, as a new iteration.</summary>
public sealed class RunRejectCommand : RunActionCommand
{
    private readonly Option<string> _feedback = new("--feedback", "-m") { Description = "What the agent should change (goes into its prompt)", Required = true, HelpName = "text" };
    private readonly Option<string> _digest = new("--digest") { Description = "Reject only what you reviewed: the gate's digest (gate.digest); a changed gate exits 4", HelpName = "sha256:..." };
    private readonly Option<string> _to = new("--to") { Description = "The phase to go back to, among the gate's reject_to [default: the first of them]", HelpName = "phase" };

    public RunRejectCommand()
        : base("reject", "Reject the gate a run is waiting at, with feedback for a new iteration.",
            "baton run reject run_01JD3X... --feedback \"Cover high-contrast mode too\"",
            "baton run reject run_01JD3X... --feedback \"The requirements miss offline use\" --to discovery")
    {
        Options.Add(_feedback);
        Options.Add(_to);
        Options.Add(_digest);
        AddSharedOptions();
    }

    protected override string Done => "Rejected";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.RejectAsync(runId, new RejectRequest(parseResult.GetValue(_feedback)!, parseResult.GetValue(_to), parseResult.GetValue(_digest)), version, cancellationToken);
}
