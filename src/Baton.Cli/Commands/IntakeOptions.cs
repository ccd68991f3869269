using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>
/// The intake as `run create` and `run fork` take it: --intake TEXT, --intake-file FILE, or - for standard input, at
/// most one of them (exactly one where the intake is required).
/// </summary>
public sealed class IntakeOptions
{
    private readonly Option<string> _intake;
    private readonly Option<string> _intakeFile = new("--intake-file", "-f") { Description = "Read the intake from this file", HelpName = "file" };
    private readonly Argument<string?> _stdin = new("stdin") { Description = "- reads the intake from standard input", HelpName = "-", Arity = ArgumentArity.ZeroOrOne };

    public IntakeOptions(string description) => _intake = new("--intake") { Description = description, HelpName = "text" };

    /// <summary>Adds the options to <paramref name="command"/>; <paramref name="required"/> says whether one must be given.</summary>
    public void AddTo(Command command, bool required)
    {
        command.Options.Add(_intake);
        command.Options.Add(_intakeFile);
        command.Arguments.Add(_stdin);
        _stdin.AcceptOnlyFromAmong("-");
        command.Validators.Add(result =>
        {
            var sources = (result.GetValue(_intake) is not null ? 1 : 0) + (result.GetValue(_intakeFile) is not null ? 1 : 0) + (result.GetValue(_stdin) is not null ? 1 : 0);
            if (sources > 1 || (required && sources == 0))
            {
                result.AddError(sources == 0
                    ? "give the intake: --intake TEXT, --intake-file FILE, or - to read it from standard input"
                    : "give the intake once: --intake TEXT, --intake-file FILE, or - (not more than one)");
            }
        });
    }

    /// <summary>The intake given, or null when none was (only where it is optional).</summary>
    public async Task<string?> ReadAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        if (parseResult.GetValue(_intake) is { } text)
        {
            return text;
        }
        if (parseResult.GetValue(_intakeFile) is { } file)
        {
            return await InputFiles.ReadTextAsync(file, "--intake-file", cancellationToken);
        }
        if (parseResult.GetValue(_stdin) is null)
        {
            return null;
        }
        if (!Console.IsInputRedirected)
        {
            throw new CliException("- reads the intake from standard input, but nothing is piped in: pipe a file, or use --intake-file", ExitCodes.Usage);
        }
        return await Console.In.ReadToEndAsync(cancellationToken);
    }
}
