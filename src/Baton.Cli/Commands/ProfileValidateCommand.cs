using System.CommandLine;
using Baton.Profiles;

namespace Baton.Cli.Commands;

/// <summary>The outcome of `baton profile validate --json`.</summary>
public sealed record ProfileValidation(string File, bool Valid, string? Profile, IReadOnlyList<string> Phases, IReadOnlyList<ProfileError> Errors);

/// <summary>
/// `baton profile validate FILE`: checks a profile file with the server's own parser, here, without a server, and
/// prints every problem as file:line: message, a YAML syntax error as file:line:column: message (the formats
/// editors and CI annotate from).
/// </summary>
public sealed class ProfileValidateCommand : BatonCommand
{
    private readonly Argument<string[]> _file = new("file") { Description = "The profile's YAML file (or several)", Arity = ArgumentArity.OneOrMore };
    private readonly Option<bool> _json = JsonOption("{file, valid, profile, phases, errors[{file, line, column?, message}]}");

    public ProfileValidateCommand()
        : base("validate", "Check a profile file and print every error with its line; exits 1 if there are any.",
            "baton profile validate my_flow.yaml",
            "baton profile validate .baton/profiles/*.yaml")
    {
        Arguments.Add(_file);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var terminal = Terminal.For(parseResult);
        var json = parseResult.GetValue(_json);
        var files = parseResult.GetValue(_file)!;
        var exitCode = ExitCodes.Ok;
        foreach (var file in files)
        {
            var yaml = await InputFiles.ReadTextAsync(file, option: null, cancellationToken);
            var (profile, errors) = ProfileParser.Parse(yaml, file);
            var valid = profile is not null && errors.Count == 0;
            if (!valid)
            {
                exitCode = ExitCodes.Failure;
            }
            if (json)
            {
                RunView.WriteJson(terminal.Out, new ProfileValidation(file, valid, profile?.Name, profile?.Phases.Select(p => p.Name).ToList() ?? [], errors));
                continue;
            }
            if (valid)
            {
                terminal.Line($"{file}: ", new Piece("valid", Tone.Good), $" profile '{profile!.Name}' ({string.Join(" > ", profile.Phases.Select(p => p.Name))})");
                continue;
            }
            foreach (var error in errors.OrderBy(e => e.Line).ThenBy(e => e.Column))
            {
                var at = error.Column is { } column ? $"{error.File}:{error.Line}:{column}" : $"{error.File}:{error.Line}";
                terminal.Line(new Piece($"{at}: ", Tone.Bold), error.Message);
            }
            terminal.Line(new Piece($"{file}: {errors.Count} error(s)", Tone.Bad));
        }
        return exitCode;
    }
}
