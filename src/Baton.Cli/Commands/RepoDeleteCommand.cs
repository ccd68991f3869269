using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton repo delete`: unregisters a repository nothing uses any more; the repository itself is not touched.</summary>
public sealed class RepoDeleteCommand : ClientCommand
{
    private readonly Argument<string> _repository = new("repository-id") { Description = "The repository (rep_...; see `baton repo list`)" };

    public RepoDeleteCommand()
        : base("delete", "Unregister a repository that no run, work item or workspace uses; its files and branches stay.",
            "baton repo delete rep_01JD3X...")
    {
        Arguments.Add(_repository);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var id = parseResult.GetValue(_repository)!;
        await client.DeleteRepositoryAsync(id, cancellationToken);
        Terminal.For(parseResult).Line($"Deleted repository {id}.");
        return ExitCodes.Ok;
    }
}
