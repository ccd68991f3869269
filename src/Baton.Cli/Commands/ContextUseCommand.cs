using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>`baton context use`: picks the context client commands use by default.</summary>
public sealed class ContextUseCommand : BatonCommand
{
    private readonly Argument<string?> _name = new("name") { Description = "The context to use", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<bool> _none = new("--none") { Description = "Use no context: back to BATON_URL, else the local `baton up`" };

    public ContextUseCommand()
        : base("use", "Make a saved context the default for client commands.",
            "baton context use prod",
            "baton context use --none")
    {
        Arguments.Add(_name);
        Options.Add(_none);
        Validators.Add(result =>
        {
            if ((result.GetValue(_name) is null) == !result.GetValue(_none))
            {
                result.AddError("give a context name, or --none");
            }
        });
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var path = ContextCommand.ConfigPath();
        var config = CliConfig.Load(path);
        var name = parseResult.GetValue(_name);
        if (name is not null && !config.Contexts.ContainsKey(name))
        {
            throw new CliException($"no context '{name}'; " + (config.Contexts.Count == 0 ? "add one with `baton context add`" : "known: " + string.Join(", ", config.Contexts.Keys)), ExitCodes.NotFound);
        }
        config.CurrentContext = name;
        config.Save(path);
        Terminal.For(parseResult).Line(name is null
            ? "No current context: commands use BATON_URL, else the local `baton up`."
            : $"Now using context '{name}' ({config.Contexts[name].Url}).");
        return Task.FromResult(ExitCodes.Ok);
    }
}
