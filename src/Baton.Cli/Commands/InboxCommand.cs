using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton inbox`: the gates and budget stops this key may decide now, oldest first.</summary>
public sealed class InboxCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{items[], total}");

    public InboxCommand()
        : base("inbox", "List the decisions waiting for you: open gates and budget stops your key may decide now, oldest first.",
            "baton inbox",
            "baton inbox --json | jq -r '.items[].run_id'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var inbox = await client.GetInboxAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, inbox);
            return ExitCodes.Ok;
        }
        if (inbox.Items.Count == 0)
        {
            terminal.Out.WriteLine("Nothing waits for you.");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["RUN", "PROFILE", "WAITING AT", "APPROVALS", "AGE", "EXPIRES"],
            inbox.Items.Select(i => new[]
            {
                i.RunId,
                i.Profile,
                i.Kind == "budget" ? $"budget before {i.Phase}" : $"gate {i.Phase}#{i.Iteration}",
                i.Kind == "gate" ? $"{i.Approvals}/{i.ApprovalsRequired}" + (RunView.MissingGroups(i.MissingGroups) is { Length: > 0 } needs ? $" (needs {needs})" : "") : "-",
                Age(i.AgeSeconds),
                RunView.Time(i.ExpiresAt),
            }));
        return ExitCodes.Ok;
    }

    private static string Age(long seconds) => seconds switch
    {
        < 60 => $"{seconds}s",
        < 3600 => $"{seconds / 60}m",
        < 86400 => $"{seconds / 3600}h",
        _ => (seconds / 86400).ToString(CultureInfo.InvariantCulture) + "d",
    };
}
