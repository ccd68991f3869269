using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Baton.Cli.Commands;

/// <summary>`baton`: the subcommands, help with examples, and usage errors as one line with exit code 2.</summary>
public sealed class BatonRootCommand : RootCommand
{
    public static readonly IReadOnlyList<string> RootExamples =
    [
        "baton up",
        "baton run create --profile software_delivery --intake-file prd.md --watch",
        "baton run list --status awaiting_approval",
    ];

    public BatonRootCommand()
        : base("Baton: a durable orchestrator for multi-phase AI-agent work.")
    {
        Subcommands.Add(new UpCommand());
        Subcommands.Add(new ServeCommand());
        Subcommands.Add(new DemoCommand());
        Subcommands.Add(new RunCommand());
        Subcommands.Add(new InboxCommand());
        Subcommands.Add(new ProfileCommand());
        Subcommands.Add(new WorkerCommand());
        Subcommands.Add(new RepoCommand());
        Subcommands.Add(new WorkItemCommand());
        Subcommands.Add(new ExecCommand());
        Subcommands.Add(new WorkspaceCommand());
        Subcommands.Add(new KeyCommand());
        Subcommands.Add(new AuditCommand());
        Subcommands.Add(new GcCommand());
        Subcommands.Add(new DashboardCommand());
        Subcommands.Add(new ContextCommand());
        Subcommands.Add(new McpCommand());
        Subcommands.Add(new CompletionCommand());
        foreach (var command in All(this).OfType<ClientCommand>())
        {
            command.PutConnectionOptionsLast();
        }

        var help = Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExamplesAction((HelpAction)help.Action!);
        SetAction(ShowHelp);
    }

    private static IEnumerable<Command> All(Command command) => command.Subcommands.SelectMany(All).Prepend(command);

    /// <summary>Help for the command the user typed, as --help would print it (examples included).</summary>
    public static int ShowHelp(ParseResult parseResult) =>
        ((SynchronousCommandLineAction)parseResult.RootCommandResult.Command.Options.OfType<HelpOption>().Single().Action!).Invoke(parseResult);

    public async Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // Not System.CommandLine's 2-second limit: `baton up` lets the web host handle Ctrl+C and SIGTERM, and it
            // needs as long as draining requests and stopping the engine takes. Client commands just end.
            ProcessTerminationTimeout = null,
        };
        var parseResult = Parse(args);
        if (parseResult.Action is ParseErrorAction && parseResult.Errors.Count > 0)
        {
            var command = CommandPath(parseResult);
            configuration.Error.WriteLine($"error: {BatonCommand.OneLine(parseResult.Errors[0].Message)} (see `{command} --help`)");
            return ExitCodes.Usage;
        }
        return await parseResult.InvokeAsync(configuration);
    }

    private static string CommandPath(ParseResult parseResult)
    {
        var names = new Stack<string>();
        for (var result = parseResult.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Push(result.Command is RootCommand ? "baton" : result.Command.Name);
        }
        return string.Join(' ', names);
    }

    /// <summary>The standard help, then the command's examples: the fastest way to learn a command is to see it used.</summary>
    private sealed class HelpWithExamplesAction(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            standard.Invoke(parseResult);
            var examples = parseResult.CommandResult.Command switch
            {
                BatonCommand command => command.Examples,
                BatonRootCommand => RootExamples,
                _ => [],
            };
            if (examples.Count > 0)
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var example in examples)
                {
                    output.WriteLine("  " + example);
                }
                output.WriteLine();
            }
            return ExitCodes.Ok;
        }
    }
}
