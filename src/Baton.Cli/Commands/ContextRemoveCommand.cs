using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>`baton context remove`: forgets a saved server and its key.</summary>
public sealed class ContextRemoveCommand : BatonCommand
{
    private readonly Argument<string> _name = new("name") { Description = "The context to remove" };

    public ContextRemoveCommand()
        : base("remove", "Remove a saved context and its key from the config file.",
            "baton context remove staging")
    {
        Arguments.Add(_name);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var path = ContextCommand.ConfigPath();
        var config = CliConfig.Load(path);
        var name = parseResult.GetValue(_name)!;
        if (!config.Contexts.Remove(name))
        {
            throw new CliException($"no context '{name}'", ExitCodes.NotFound);
        }
        if (config.CurrentContext == name)
        {
            config.CurrentContext = null;
        }
        config.Save(path);
        Terminal.For(parseResult).Line($"Removed context '{name}'.");
        return Task.FromResult(ExitCodes.Ok);
    }
}
