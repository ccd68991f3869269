using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton work-item list`: the work items, oldest first.</summary>
public sealed class WorkItemListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{work_items[]}");

    public WorkItemListCommand()
        : base("list", "List work items: id, title, repository.",
            "baton work-item list",
            "baton work-item list --json | jq -r '.work_items[].work_item_id'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListWorkItemsAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.WorkItems.Count == 0)
        {
            terminal.Line("No work items. Add one: baton work-item add TITLE [--repo REPOSITORY_ID]");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["WORK ITEM ID", "REPOSITORY", "CREATED", "TITLE"],
            list.WorkItems.Select(w => new[] { w.WorkItemId, w.RepositoryId ?? "-", RunView.Time(w.CreatedAt), RunView.OneLine(w.Title) }));
        return ExitCodes.Ok;
    }
}
