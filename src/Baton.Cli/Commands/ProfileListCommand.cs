using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton profile list`: the server's profiles, and the errors of profile files it could not load.</summary>
public sealed class ProfileListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{profiles[], errors[]}");

    public ProfileListCommand()
        : base("list", "List the server's profiles, and the errors of any profile file it could not load.",
            "baton profile list",
            "baton profile list --json | jq -r '.profiles[].name'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListProfilesAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.Profiles.Count == 0)
        {
            terminal.Line("No profiles.");
        }
        else
        {
            Table.Write(terminal,
                ["NAME", "SOURCE", "MODE", "MAX ITERS", "PHASES"],
                list.Profiles.Select(p => new[]
                {
                    p.Name, p.Source, p.Mode, p.MaxIterations.ToString(CultureInfo.InvariantCulture), string.Join(" > ", p.Phases),
                }));
        }
        if (list.Errors.Count > 0)
        {
            terminal.Blank();
            terminal.Line(new Piece($"{list.Errors.Count} problem(s) in profile files (those profiles are not loaded):", Tone.Bad));
            foreach (var error in list.Errors)
            {
                terminal.Line($"  {error.File}:{error.Line}: {error.Message}");
            }
        }
        return ExitCodes.Ok;
    }
}
