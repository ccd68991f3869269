using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run cancel`: stops a run, and its running agent, for good.</summary>
public sealed class RunCancelCommand : RunActionCommand
{
    private readonly Option<string> _reason = new("--reason") { Description = "Why, for the event log", HelpName = "text" };

    public RunCancelCommand()
        : base("cancel", "Cancel a run: its running phase is stopped and it ends as cancelled.",
            "baton run cancel run_01JD3X...",
            "baton run cancel run_01JD3X... --reason \"Superseded by the new PRD\"")
    {
        Options.Add(_reason);
        AddSharedOptions();
    }

    protected override string Done => "Cancelled";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.CancelAsync(runId, parseResult.GetValue(_reason), version, cancellationToken);
}
