using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run show`: one run with its phases, gates and what to do next.</summary>
public sealed class RunShowCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<bool> _json = JsonOption("the run with phases[], step_timestamps and version");

    public RunShowCommand()
        : base("show", "Show a run: its status, phases, gates and intake.",
            "baton run show run_01JD3X...",
            "baton run show run_01JD3X... --json | jq '.phases[] | {name, status}'")
    {
        Arguments.Add(_run);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var run = await client.GetRunAsync(parseResult.GetValue(_run)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, run);
        }
        else
        {
            RunView.WriteDetail(terminal, run);
        }
        return ExitCodes.Ok;
    }
}
