using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>One context in `baton context list --json`: never the key itself.</summary>
public sealed record ContextInfo(string Name, string Url, bool HasToken, bool Current);

/// <summary>`baton context list`: the saved servers, the current one marked.</summary>
public sealed class ContextListCommand : BatonCommand
{
    private readonly Option<bool> _json = JsonOption("[{name, url, has_token, current}]");

    public ContextListCommand()
        : base("list", "List saved contexts; the current one is marked with *.",
            "baton context list",
            "baton context list --json | jq -r '.[] | select(.current) | .url'")
    {
        Options.Add(_json);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var path = ContextCommand.ConfigPath();
        var config = CliConfig.Load(path);
        var contexts = config.Contexts.Select(c => new ContextInfo(c.Key, c.Value.Url, c.Value.Token is not null, c.Key == config.CurrentContext)).ToList();
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, contexts);
            return Task.FromResult(ExitCodes.Ok);
        }
        if (contexts.Count == 0)
        {
            terminal.Line($"No contexts in {Shell.Path(path)}: commands use BATON_URL, else the local `baton up`. Add one with `baton context add`.");
            return Task.FromResult(ExitCodes.Ok);
        }
        Table.Write(terminal,
            ["CURRENT", "NAME", "URL", "KEY"],
            contexts.Select(c => new[] { c.Current ? "*" : "", c.Name, c.Url, c.HasToken ? "saved" : "-" }));
        return Task.FromResult(ExitCodes.Ok);
    }
}
