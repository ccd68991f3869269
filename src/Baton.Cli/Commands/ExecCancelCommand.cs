using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton exec cancel`: stops a pending or running execution; its whole process tree is gone when this returns.</summary>
public sealed class ExecCancelCommand : ClientCommand
{
    private readonly Argument<string> _execution = new("execution-id") { Description = "The execution (exe_...)" };
    private readonly Option<bool> _json = JsonOption("the execution afterwards");

    public ExecCancelCommand()
        : base("cancel", "Cancel a pending or running execution; one that has ended is a conflict (exit 4).",
            "baton exec cancel exe_01JD3X...")
    {
        Arguments.Add(_execution);
        Options.Add(_json);
    }

    // The server's refusal already says the execution's status ("execution 'exe_...' is success; ...").
    protected override string? ConflictSubject => null;

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var execution = await client.CancelExecutionAsync(parseResult.GetValue(_execution)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, execution);
            return ExitCodes.Ok;
        }
        terminal.Line($"Cancelled {execution.Id}: now ", new Piece(execution.Status, Terminal.ToneOf(execution.Status)));
        return ExitCodes.Ok;
    }
}
