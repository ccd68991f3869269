using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run retry`: resumes a failed run at the phase that failed.</summary>
public sealed class RunRetryCommand : RunActionCommand
{
    public RunRetryCommand()
        : base("retry", "Resume a failed run at the phase that failed, as a new iteration.",
            "baton run retry run_01JD3X...",
            "baton run retry run_01JD3X... --json | jq -r .status")
    {
        AddSharedOptions();
    }

    protected override string Done => "Retried";

    protected override Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken) =>
        client.RetryAsync(runId, version, cancellationToken);
}
