using System.CommandLine;

namespace Baton.Cli.Commands;

/// <summary>`baton context add`: saves a server and its key under a name.</summary>
public sealed class ContextAddCommand : BatonCommand
{
    private readonly Argument<string> _name = new("name") { Description = "A name for the server: prod, staging, ..." };
    private readonly Option<string> _url = new("--url") { Description = "The server's URL", Required = true, HelpName = "url" };
    private readonly Option<string> _token = new("--token") { Description = "The API key to use with it; - reads it from standard input", HelpName = "key" };
    private readonly Option<bool> _use = new("--use") { Description = "Also make it the current context" };

    public ContextAddCommand()
        : base("add", "Save a server (URL and API key) under a name; an existing name is replaced.",
            "baton context add prod --url https://baton.example.com --token \"$BATON_PROD_KEY\" --use",
            "pass show baton/staging | baton context add staging --url https://staging.baton.example.com --token -")
    {
        Arguments.Add(_name);
        Options.Add(_url);
        Options.Add(_token);
        Options.Add(_use);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var name = parseResult.GetValue(_name)!.Trim();
        if (name.Length == 0 || name.Any(char.IsWhiteSpace))
        {
            throw new CliException("a context name is one word, such as prod", ExitCodes.Usage);
        }
        var url = Connection.ParseContextUrl(parseResult.GetValue(_url)!).AbsoluteUri.TrimEnd('/');
        var token = parseResult.GetValue(_token);
        if (token == "-")
        {
            token = (await Console.In.ReadToEndAsync(cancellationToken)).Trim();
        }
        var path = ContextCommand.ConfigPath();
        var config = CliConfig.Load(path);
        var replaced = config.Contexts.ContainsKey(name);
        config.Contexts[name] = new ContextEntry(url, string.IsNullOrWhiteSpace(token) ? null : token.Trim());
        if (parseResult.GetValue(_use))
        {
            config.CurrentContext = name;
        }
        config.Save(path);
        var terminal = Terminal.For(parseResult);
        terminal.Line($"{(replaced ? "Replaced" : "Added")} context '{name}' ({url}{(token is null ? ", no key" : "")}) in {Shell.Path(path)}.");
        terminal.Line(config.CurrentContext == name ? $"It is the current context." : $"Use it: baton context use {name}   (or --context {name} on one command)");
        return ExitCodes.Ok;
    }
}
