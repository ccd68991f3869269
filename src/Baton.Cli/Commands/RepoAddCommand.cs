using System.CommandLine;
using Baton.Client;
using Baton.Workspaces;

namespace Baton.Cli.Commands;

/// <summary>`baton repo add`: registers a local git repository (by path) or a git URL (cloned on first use).</summary>
public sealed class RepoAddCommand : ClientCommand
{
    private readonly Argument<string> _name = new("name") { Description = "A name for the repository" };
    private readonly Argument<string> _location = new("path-or-url") { Description = "A local git repository's folder, or a git URL" };
    private readonly Option<string> _branch = new("--default-branch") { Description = "The branch workspaces start from [default: main]", HelpName = "branch" };
    private readonly Option<string> _credentialEnv = new("--credential-env")
    {
        Description = "Admins: the server environment variable holding the URL's user:token (never the token itself)",
        HelpName = "variable",
    };
    private readonly Option<bool> _json = JsonOption("the repository");

    public RepoAddCommand()
        : base("add", "Register a git repository (a git URL, or for an admin a local folder inside BATON_REPO_ROOTS) for runs and executions to work in.",
            "baton repo add web .",
            "baton repo add api https://github.com/acme/api.git --default-branch develop",
            "baton repo add web ~/src/web --json | jq -r .repository_id",
            "baton repo add private https://git.example.com/acme/private.git --credential-env ACME_GIT_TOKEN")
    {
        Arguments.Add(_name);
        Arguments.Add(_location);
        Options.Add(_branch);
        Options.Add(_credentialEnv);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var location = parseResult.GetValue(_location)!;
        // The server resolves a relative path against its own folder, not the one the command was typed in.
        if (RepositoryLocations.IsLocal(location) && !string.IsNullOrWhiteSpace(location))
        {
            location = Path.GetFullPath(location);
        }
        var repository = await client.CreateRepositoryAsync(new CreateRepositoryRequest(parseResult.GetValue(_name), location, parseResult.GetValue(_branch), parseResult.GetValue(_credentialEnv)), cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, repository);
            return ExitCodes.Ok;
        }
        terminal.Line($"Added repository {repository.RepositoryId} '{repository.Name}': {repository.Url} ({repository.DefaultBranch}).");
        terminal.Line(new Piece($"Work on it: baton work-item add TITLE --repo {repository.RepositoryId}", Tone.Dim));
        return ExitCodes.Ok;
    }
}
