namespace Baton.Cli.Commands;

/// <summary>`baton work-item ...`: what standalone executions work on.</summary>
public sealed class WorkItemCommand : GroupCommand
{
    public WorkItemCommand()
        : base("work-item", "Add and list work items: the tasks standalone executions (`baton exec run`) work on.",
            "baton work-item add \"Fix the login redirect\" --repo rep_01JD3X...",
            "baton work-item list")
    {
        Subcommands.Add(new WorkItemAddCommand());
        Subcommands.Add(new WorkItemListCommand());
    }
}
