using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton profile show`: one profile's phases, gates and checks, or its YAML.</summary>
public sealed class ProfileShowCommand : ClientCommand
{
    private readonly Argument<string> _name = new("name") { Description = "The profile" };
    private readonly Option<bool> _yaml = new("--yaml") { Description = "Print the profile's YAML source" };
    private readonly Option<bool> _json = JsonOption("the profile with phases[] and yaml");

    public ProfileShowCommand()
        : base("show", "Show a profile: its phases, workers, gates and checks.",
            "baton profile show software_delivery",
            "baton profile show software_delivery --yaml > my_flow.yaml")
    {
        Arguments.Add(_name);
        Options.Add(_yaml);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var profile = await client.GetProfileAsync(parseResult.GetValue(_name)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, profile);
            return ExitCodes.Ok;
        }
        if (parseResult.GetValue(_yaml))
        {
            terminal.Out.Write(profile.Yaml.EndsWith('\n') ? profile.Yaml : profile.Yaml + "\n");
            return ExitCodes.Ok;
        }
        terminal.Line(new Piece(profile.Name, Tone.Bold), $"  ({profile.Source}, {profile.Mode} mode, at most {profile.MaxIterations} iterations"
            + (profile.BudgetUsd is { } budget ? $", budget {RunView.Money(budget)})" : ")"));
        if (profile.Description is { Length: > 0 } description)
        {
            terminal.Line(description.Trim());
        }
        terminal.Blank();
        Table.Write(terminal,
            ["PHASE", "WORKER", "PRODUCES", "GATE", "CHECKS", "ON FAILURE", "TIMEOUT"],
            profile.Phases.Select(p => new[]
            {
                p.Name,
                p.Worker,
                p.Produces.Count == 0 ? "-" : string.Join(", ", p.Produces),
                p.Gate is { } g ? $"yes ({g.Timeout}, then {g.OnTimeout}; reject to {string.Join("/", g.RejectTo.DefaultIfEmpty(p.Name))})" : "-",
                p.Checks.Count == 0 ? "-" : string.Join(", ", p.Checks.Select(c => c.Contains is null ? c.Artifact : $"{c.Artifact} contains \"{c.Contains}\"")),
                p.RetryFrom is { } from ? $"retry from {from}" : "-",
                p.Timeout,
            }));
        return ExitCodes.Ok;
    }
}
