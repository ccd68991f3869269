using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run approve`: approves the gate (or budget stop) a run waits at.</summary>
public sealed class RunApproveCommand : RunActionCommand
{
    private readonly Option<string> _comment = new("--comment", "-m") { Description = "A note kept with the approval", HelpName = "text" };

    public RunApproveCommand()
        : base("approve", "Approve the gate or budget stop a run is waiting at.",
            "baton run approve run_01JD3X...",
            "baton run approve run_01JD3X... --comment \"Design is sound\" --if-version 7")
    {
        Options.Add(_comment);
        AddSharedOptions();
    }

    protected override string Done => "Approved";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.ApproveAsync(runId, parseResult.GetValue(_comment), version, cancellationToken);
}
