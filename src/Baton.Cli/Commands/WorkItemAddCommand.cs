using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton work-item add`: a task for standalone executions, optionally in a repository.</summary>
public sealed class WorkItemAddCommand : ClientCommand
{
    private readonly Argument<string> _title = new("title") { Description = "What the work is, in a line" };
    private readonly Option<string> _description = new("--description") { Description = "More about it", HelpName = "text" };

    private readonly Option<string> _repository = new("--repo")
    {
        Description = "The repository (rep_...) executions work in; without one they work in a scratch folder",
        HelpName = "repository-id",
    };

    private readonly Option<bool> _json = JsonOption("the work item");

    public WorkItemAddCommand()
        : base("add", "Add a work item for standalone executions to work on.",
            "baton work-item add \"Fix the login redirect\" --repo rep_01JD3X...",
            "ITEM=$(baton work-item add \"Add a changelog\" --description \"Keep a Changelog format\" --repo rep_01JD3X... --json | jq -r .work_item_id)")
    {
        Arguments.Add(_title);
        Options.Add(_description);
        Options.Add(_repository);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var item = await client.CreateWorkItemAsync(
            new CreateWorkItemRequest(parseResult.GetValue(_title), parseResult.GetValue(_description), parseResult.GetValue(_repository)), cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, item);
            return ExitCodes.Ok;
        }
        terminal.Line($"Added work item {item.WorkItemId} '{RunView.OneLine(item.Title)}'" + (item.RepositoryId is { } repo ? $" in {repo}." : "."));
        terminal.Line(new Piece($"Work on it: baton exec run --worker WORKER --work-item {item.WorkItemId} --prompt TEXT", Tone.Dim));
        return ExitCodes.Ok;
    }
}
