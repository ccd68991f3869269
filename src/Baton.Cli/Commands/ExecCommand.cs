namespace Baton.Cli.Commands;

/// <summary>`baton exec ...`: standalone executions of a worker on a work item, outside any run.</summary>
public sealed class ExecCommand : GroupCommand
{
    public ExecCommand()
        : base("exec", "Run a worker on a work item outside any run, follow it, and see what it changed.",
            "baton exec run --worker claude-code --work-item wki_01JD3X... --prompt \"Fix the failing test\" --watch",
            "baton exec show exe_01JD3X... --diff")
    {
        Subcommands.Add(new ExecRunCommand());
        Subcommands.Add(new ExecShowCommand());
        Subcommands.Add(new ExecCancelCommand());
    }
}
