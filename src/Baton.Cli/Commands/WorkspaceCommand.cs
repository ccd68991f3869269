namespace Baton.Cli.Commands;

/// <summary>`baton workspace ...`: the git worktrees runs and executions work in.</summary>
public sealed class WorkspaceCommand : GroupCommand
{
    public WorkspaceCommand()
        : base("workspace", "List and delete workspaces: the git worktrees that runs and executions work in.",
            "baton workspace list",
            "baton workspace delete wsp_01JD3X...")
    {
        Subcommands.Add(new WorkspaceListCommand());
        Subcommands.Add(new WorkspaceDeleteCommand());
    }
}
