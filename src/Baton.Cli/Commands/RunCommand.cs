namespace Baton.Cli.Commands;

/// <summary>`baton run ...`: runs on a Baton server.</summary>
public sealed class RunCommand : GroupCommand
{
    public RunCommand()
        : base("run", "Work with runs on a Baton server.", "baton run list")
    {
        Subcommands.Add(new RunListCommand());
    }
}
