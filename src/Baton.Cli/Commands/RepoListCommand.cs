using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton repo list`: the registered repositories.</summary>
public sealed class RepoListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{repositories[]}");

    public RepoListCommand()
        : base("list", "List the registered repositories: id, name, path or URL, default branch.",
            "baton repo list",
            "baton repo list --json | jq -r '.repositories[] | select(.name == \"web\") | .repository_id'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListRepositoriesAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.Repositories.Count == 0)
        {
            terminal.Line("No repositories. Add one: baton repo add NAME PATH_OR_URL");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["REPOSITORY ID", "NAME", "BRANCH", "CREATED", "URL"],
            list.Repositories.Select(r => new[] { r.RepositoryId, r.Name, r.DefaultBranch, RunView.Time(r.CreatedAt), r.Url }));
        return ExitCodes.Ok;
    }
}
