using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>A command that only holds subcommands (`baton run`): on its own it shows its help.</summary>
public abstract class GroupCommand(string name, string description, params string[] examples)
    : BatonCommand(name, description, examples)
{
    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken) =>
        Task.FromResult(BatonRootCommand.ShowHelp(parseResult));
}
