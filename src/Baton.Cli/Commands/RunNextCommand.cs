using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run next`: moves a paused (manual-mode) run on to its next phase.</summary>
public sealed class RunNextCommand : RunActionCommand
{
    private readonly Option<bool> _skipValidation = new("--skip-validation")
    {
        Description = "Accept the phase's output although its checks failed, or skip the next phase's checks (approver role; recorded)",
    };

    public RunNextCommand()
        : base("next", "Move a paused run on to its next phase (manual mode).",
            "baton run next run_01JD3X...",
            "baton run next run_01JD3X... --skip-validation")
    {
        Options.Add(_skipValidation);
        AddSharedOptions();
    }

    protected override string Done => "Moved on";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.NextAsync(runId, parseResult.GetValue(_skipValidation), version, cancellationToken);
}
