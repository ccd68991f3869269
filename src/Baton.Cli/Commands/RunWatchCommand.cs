using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run watch`: live phase progress until the run completes or needs a human.</summary>
public sealed class RunWatchCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<bool> _json = JsonOption("one event per line, as the API's event stream has them");

    public RunWatchCommand()
        : base("watch", "Follow a run live until it completes (exit 0), needs a human (6 approval, 7 paused) or ends otherwise (8).",
            "baton run watch run_01JD3X...",
            "baton run watch run_01JD3X... && echo done || echo \"stopped with $?\"",
            "baton run watch run_01JD3X... --json | jq -r .type")
    {
        Arguments.Add(_run);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var run = await client.GetRunAsync(parseResult.GetValue(_run)!, cancellationToken);
        return await RunWatcher.WatchAsync(client, Terminal.For(parseResult), run, parseResult.GetValue(_json), cancellationToken);
    }
}
