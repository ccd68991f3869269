using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton gc --older-than 30d` (admin): retention now; prints what it freed.</summary>
public sealed class GcCommand : ClientCommand
{
    private readonly Option<string> _olderThan = new("--older-than") { Description = "Finished runs older than this (30d, 12h) lose their events, logs and artifacts.", Required = true };
    private readonly Option<bool> _json = JsonOption("{runs, events_deleted, artifacts_deleted, blobs_deleted, bytes_freed}");

    public GcCommand()
        : base("gc", "Delete the events, logs and artifacts of runs finished for good before a given age (admin); their rows stay.",
            "baton gc --older-than 90d")
    {
        Options.Add(_olderThan);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var freed = await client.GcAsync(parseResult.GetValue(_olderThan)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, freed);
            return ExitCodes.Ok;
        }
        terminal.Out.WriteLine(
            $"Freed {freed.BytesFreed:N0} bytes: {freed.Runs} run(s), {freed.EventsDeleted} events and log lines, {freed.ArtifactsDeleted} artifacts, {freed.BlobsDeleted} blobs.");
        return ExitCodes.Ok;
    }
}
