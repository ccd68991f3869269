using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton dashboard`: a fresh one-time link that signs a browser in to the dashboard as this key.</summary>
public sealed class DashboardCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{url, expires_at}");

    public DashboardCommand()
        : base("dashboard", "Print a one-time link that signs a browser in to the dashboard as your key (valid once, for an hour).",
            "baton dashboard",
            "xdg-open \"$(baton dashboard --json | jq -r .url)\"")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var link = await client.CreateSignInLinkAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, link);
            return ExitCodes.Ok;
        }
        terminal.Out.WriteLine($"Open {link.Url}");
        terminal.Out.WriteLine($"It signs one browser in, once, until {RunView.Time(link.ExpiresAt)}.");
        return ExitCodes.Ok;
    }
}
