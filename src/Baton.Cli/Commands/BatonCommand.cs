using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>
/// A `baton` command: a one-line description and examples for --help, and any failure turned into one line on
/// stderr and a documented exit code — never a stack trace.
/// </summary>
public abstract class BatonCommand : Command
{
    protected BatonCommand(string name, string description, params string[] examples)
        : base(name, description)
    {
        Examples = examples;
        SetAction(InvokeAsync);
    }

    public IReadOnlyList<string> Examples { get; }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);

    private async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        try
        {
            return await ExecuteAsync(parseResult, cancellationToken);
        }
        catch (CliException e)
        {
            return Fail(parseResult, e.Message, e.ExitCode);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            return Fail(parseResult, e.Message, ExitCodes.Failure);
        }
    }

    private static int Fail(ParseResult parseResult, string message, int exitCode)
    {
        // A server's message can quote what an agent or a repository wrote.
        parseResult.InvocationConfiguration.Error.WriteLine("error: " + TerminalText.Clean(OneLine(message)));
        return exitCode;
    }

    /// <summary>Messages from the framework can span lines (option lists); a script reading stderr wants one.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    /// <summary>--json: the API's JSON instead of text for people.</summary>
    protected static Option<bool> JsonOption(string shape) => new("--json") { Description = $"Print JSON ({shape}) instead of text" };

    /// <summary>A run id argument.</summary>
    protected static Argument<string> RunIdArgument() => new("run-id") { Description = "The run (run_...)" };

    /// <summary>An optional whole-number option whose parse error names the option, not a CLR type.</summary>
    protected static Option<int?> WholeNumber(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "n",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
            result.AddError($"{name} must be a whole number, not '{text}'");
            return null;
        },
    };
}
