using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton exec show`: one execution's status, outcome, usage, last log lines and, with --diff, its diff.</summary>
public sealed class ExecShowCommand : ClientCommand
{
    private readonly Argument<string> _execution = new("execution-id") { Description = "The execution (exe_...)" };
    private readonly Option<bool> _diff = new("--diff") { Description = "Also print the diff of what it changed" };
    private readonly Option<bool> _json = JsonOption("the execution: status, error_message, output{summary, files_changed[], tests_run, tests_passed, tests{total, passed, failed}, logs, diff}, tokens_used, cost_usd, ...");

    public ExecShowCommand()
        : base("show", "Show an execution: status, summary, files changed, tests, tokens, cost and duration.",
            "baton exec show exe_01JD3X...",
            "baton exec show exe_01JD3X... --diff",
            "baton exec show exe_01JD3X... --json | jq '{status, files: .output.files_changed, cost: .cost_usd}'")
    {
        Arguments.Add(_execution);
        Options.Add(_diff);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var execution = await client.GetExecutionAsync(parseResult.GetValue(_execution)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, execution);
        }
        else
        {
            ExecutionView.WriteDetail(terminal, execution, parseResult.GetValue(_diff));
        }
        return ExitCodes.Ok;
    }
}
