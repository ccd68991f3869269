using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// A decision on a run (next, approve, reject, cancel, retry): the run id, --if-version to act only on the run
/// as last seen (409 and exit 4 if it moved on), and the run as it is afterwards.
/// </summary>
public abstract class RunActionCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();

    private readonly Option<long?> _ifVersion = new("--if-version")
    {
        Description = "Act only if the run is still at this version (`baton run show` prints it); otherwise exit 4",
        HelpName = "n",
    };

    private readonly Option<bool> _json = JsonOption("the run afterwards");

    protected RunActionCommand(string name, string description, params string[] examples)
        : base(name, description, examples)
    {
        Arguments.Add(_run);
    }

    /// <summary>The shared options come after the command's own, so --help lists what matters first.</summary>
    protected void AddSharedOptions()
    {
        Options.Add(_ifVersion);
        Options.Add(_json);
    }

    /// <summary>"Approved": how the message after the action starts.</summary>
    protected abstract string Done { get; }

    protected abstract Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken);

    protected sealed override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var run = await ActAsync(parseResult, client, parseResult.GetValue(_run)!, parseResult.GetValue(_ifVersion), cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, run);
            return ExitCodes.Ok;
        }
        terminal.Line($"{Done} {run.RunId}: now ", new Piece(RunView.Where(run), Terminal.ToneOf(run.Status)));
        RunView.WriteNextSteps(terminal, run);
        return ExitCodes.Ok;
    }
}
