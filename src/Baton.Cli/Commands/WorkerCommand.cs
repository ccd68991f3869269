namespace Baton.Cli.Commands;

/// <summary>`baton worker ...`: the agents a server can run (creating and deleting them is the admin's call).</summary>
public sealed class WorkerCommand : GroupCommand
{
    public WorkerCommand()
        : base("worker", "Create, list, show and delete workers: the programs and models that do a phase's work.",
            "baton worker create --file docs/workers/claude-code.yaml",
            "baton worker list")
    {
        Subcommands.Add(new WorkerListCommand());
        Subcommands.Add(new WorkerShowCommand());
        Subcommands.Add(new WorkerCreateCommand());
        Subcommands.Add(new WorkerDeleteCommand());
    }
}
