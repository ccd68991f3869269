using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton workspace delete`: removes a workspace's folder now rather than when its time is up; its branch stays.</summary>
public sealed class WorkspaceDeleteCommand : ClientCommand
{
    private readonly Argument<string> _workspace = new("workspace-id") { Description = "The workspace (see `baton workspace list`)" };

    public WorkspaceDeleteCommand()
        : base("delete", "Delete a workspace's folder now; its branch stays for review. One an agent works in is a conflict (exit 4).",
            "baton workspace delete wsp_01JD3X...")
    {
        Arguments.Add(_workspace);
    }

    // The server's refusal says what holds the workspace; its current_status ("in_use") is not a run's.
    protected override string? ConflictSubject => null;

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var workspace = await client.DeleteWorkspaceAsync(parseResult.GetValue(_workspace)!, cancellationToken);
        Terminal.For(parseResult).Line($"Deleted workspace {workspace.Id} ({workspace.Path}); branch {workspace.Branch} stays.");
        return ExitCodes.Ok;
    }
}
