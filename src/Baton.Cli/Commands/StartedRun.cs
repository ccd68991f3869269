using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>What `run create` and `run fork` print about the run they started, and the watch that may follow.</summary>
public static class StartedRun
{
    /// <summary>The run (as JSON, or a line: the headline and where the run is), then a watch if asked for.</summary>
    public static async Task<int> ReportAsync(Terminal terminal, BatonClient client, RunDetail run, bool json, bool watch, Piece[] headline, CancellationToken cancellationToken)
    {
        if (json)
        {
            RunView.WriteJson(terminal.Out, run);
        }
        else
        {
            terminal.Line([.. headline, new Piece(RunView.Where(run), Terminal.ToneOf(run.Status))]);
        }
        if (!watch)
        {
            if (!json)
            {
                terminal.Line(new Piece($"Follow it: baton run watch {run.RunId}", Tone.Dim));
            }
            return ExitCodes.Ok;
        }
        return await RunWatcher.WatchAsync(client, terminal, run, json, cancellationToken, announce: false);
    }
}
