namespace Baton.Cli.Commands;

/// <summary>`baton repo ...`: the git repositories runs and executions work in.</summary>
public sealed class RepoCommand : GroupCommand
{
    public RepoCommand()
        : base("repo", "Register, list and remove the git repositories that runs and executions work in.",
            "baton repo add web ~/src/web",
            "baton repo list")
    {
        Subcommands.Add(new RepoListCommand());
        Subcommands.Add(new RepoAddCommand());
        Subcommands.Add(new RepoDeleteCommand());
    }
}
