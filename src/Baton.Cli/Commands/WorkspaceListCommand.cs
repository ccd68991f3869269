using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton workspace list`: the active workspaces, whose they are and where.</summary>
public sealed class WorkspaceListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{workspaces[]}");

    public WorkspaceListCommand()
        : base("list", "List active workspaces: owner (run or execution), branch, repository and folder.",
            "baton workspace list",
            "baton workspace list --json | jq -r '.workspaces[] | select(.owner_id | startswith(\"exe_\")) | .id'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListWorkspacesAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.Workspaces.Count == 0)
        {
            terminal.Line("No active workspaces.");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["WORKSPACE ID", "OWNER", "BRANCH", "REPOSITORY", "CREATED", "PATH"],
            list.Workspaces.Select(w => new[] { w.Id, w.OwnerId, w.Branch, w.RepositoryId, RunView.Time(w.CreatedAt), w.Path }));
        return ExitCodes.Ok;
    }
}
