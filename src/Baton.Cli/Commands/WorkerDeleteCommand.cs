using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton worker delete`: removes a worker. One loaded from a file in &lt;data dir&gt;/workers comes back at the
/// server's next start, since files are loaded then.
/// </summary>
public sealed class WorkerDeleteCommand : ClientCommand
{
    private readonly Argument<string> _worker = new("worker") { Description = "The worker's name or id (wkr_...)" };

    public WorkerDeleteCommand()
        : base("delete", "Delete a worker (admin role).",
            "baton worker delete claude-code")
    {
        Arguments.Add(_worker);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var worker = parseResult.GetValue(_worker)!;
        await client.DeleteWorkerAsync(worker, cancellationToken);
        Terminal.For(parseResult).Line($"Deleted worker {worker}.");
        return ExitCodes.Ok;
    }
}
