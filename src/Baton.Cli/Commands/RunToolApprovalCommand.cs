using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run tool-approval`: allows or denies a tool use an agent is waiting on (a phase's tool_approvals).</summary>
public sealed class RunToolApprovalCommand : ClientCommand
{
    private readonly Argument<string> _run = new("run-id") { Description = "The run (run_...)" };
    private readonly Argument<string> _approval = new("approval-id") { Description = "The tool approval (tap_..., listed by `baton run show --json` as tool_approvals)" };
    private readonly Option<bool> _allow = new("--allow") { Description = "Let the agent use the tool" };
    private readonly Option<bool> _deny = new("--deny") { Description = "Refuse it: the agent is told, with --message" };
    private readonly Option<string> _message = new("--message", "-m") { Description = "Words for the agent (why it is refused, what to do instead)", HelpName = "text" };
    private readonly Option<bool> _json = JsonOption("the tool approval afterwards");

    public RunToolApprovalCommand()
        : base("tool-approval", "Allow or deny a tool use an agent waits on (the phase lists the tool in tool_approvals).",
            "baton run tool-approval run_01JD3X... tap_01JD3Y... --allow",
            "baton run tool-approval run_01JD3X... tap_01JD3Y... --deny -m \"no network calls; use the vendored copy\"")
    {
        Arguments.Add(_run);
        Arguments.Add(_approval);
        Options.Add(_allow);
        Options.Add(_deny);
        Options.Add(_message);
        Options.Add(_json);
        Validators.Add(result =>
        {
            if (result.GetValue(_allow) == result.GetValue(_deny))
            {
                result.AddError("give exactly one of --allow or --deny");
            }
        });
    }

    protected override string? ConflictSubject => null;

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var decision = new ToolApprovalDecision(parseResult.GetValue(_allow) ? "allow" : "deny", parseResult.GetValue(_message));
        var approval = await client.DecideToolApprovalAsync(parseResult.GetValue(_run)!, parseResult.GetValue(_approval)!, decision, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, approval);
            return ExitCodes.Ok;
        }
        terminal.Line($"{(approval.Status == ToolApprovalStatuses.Allowed ? "Allowed" : "Denied")} {approval.Tool} ({approval.Id}) for {approval.ExecutionId}");
        return ExitCodes.Ok;
    }
}
