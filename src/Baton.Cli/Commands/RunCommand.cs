namespace Baton.Cli.Commands;

/// <summary>`baton run ...`: runs on a Baton server.</summary>
public sealed class RunCommand : GroupCommand
{
    public RunCommand()
        : base("run", "Start, follow and decide on runs on a Baton server.",
            "baton run create --profile software_delivery --intake-file prd.md --watch",
            "baton run list --status awaiting_approval",
            "baton run approve run_01JD3X...")
    {
        Subcommands.Add(new RunCreateCommand());
        Subcommands.Add(new RunListCommand());
        Subcommands.Add(new RunShowCommand());
        Subcommands.Add(new RunWatchCommand());
        Subcommands.Add(new RunNextCommand());
        Subcommands.Add(new RunApproveCommand());
        Subcommands.Add(new RunToolApprovalCommand());
        Subcommands.Add(new RunRejectCommand());
        Subcommands.Add(new RunCancelCommand());
        Subcommands.Add(new RunRetryCommand());
        Subcommands.Add(new RunForkCommand());
        Subcommands.Add(new RunLogsCommand());
        Subcommands.Add(new RunArtifactsCommand());
        Subcommands.Add(new RunMetricsCommand());
        Subcommands.Add(new RunExportCommand());
    }
}
