using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run artifacts`: what the run's phases produced, by phase and iteration; --download fetches them.</summary>
public sealed class RunArtifactsCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<string> _download = new("--download", "-d") { Description = "Save the newest version of each artifact into this folder", HelpName = "dir" };
    private readonly Option<bool> _json = JsonOption("the manifest: {run_id, phases[{phase, iteration, artifacts[]}]}");

    public RunArtifactsCommand()
        : base("artifacts", "List a run's artifacts by phase and iteration, or download them.",
            "baton run artifacts run_01JD3X...",
            "baton run artifacts run_01JD3X... --download ./out")
    {
        Arguments.Add(_run);
        Options.Add(_download);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var runId = parseResult.GetValue(_run)!;
        var manifest = await client.ListArtifactsAsync(runId, cancellationToken);
        var terminal = Terminal.For(parseResult);
        var all = manifest.Phases.SelectMany(g => g.Artifacts).ToList();

        if (parseResult.GetValue(_download) is { } dir)
        {
            // Names are unique within a run; the newest iteration of each is what the run ended up with.
            var newest = all.GroupBy(a => a.Name).Select(g => g.MaxBy(a => a.Iteration)!).OrderBy(a => a.Name, StringComparer.Ordinal).ToList();
            Directory.CreateDirectory(dir);
            foreach (var artifact in newest)
            {
                var content = await client.DownloadArtifactAsync(runId, artifact.Name, artifact.Iteration, cancellationToken);
                var path = ArtifactFiles.PathFor(dir, artifact.Name);
                await ArtifactFiles.WriteAsync(dir, path, content.Content, cancellationToken);
                if (!parseResult.GetValue(_json))
                {
                    terminal.Line($"{Shell.Path(Path.GetFullPath(path))}  ", new Piece($"({artifact.Phase}, iteration {artifact.Iteration}, {RunView.Size(artifact.Size)})", Tone.Dim));
                }
            }
            if (parseResult.GetValue(_json))
            {
                RunView.WriteJson(terminal.Out, manifest);
            }
            else
            {
                terminal.Line($"Saved {newest.Count} artifact(s) of {runId} to {Shell.Path(Path.GetFullPath(dir))}");
            }
            return ExitCodes.Ok;
        }

        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, manifest);
            return ExitCodes.Ok;
        }
        if (all.Count == 0)
        {
            terminal.Line("No artifacts yet.");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["PHASE", "ITER", "NAME", "SIZE", "TYPE", "CREATED"],
            all.Select(a => new[]
            {
                a.Phase, a.Iteration.ToString(CultureInfo.InvariantCulture), a.Name, RunView.Size(a.Size), a.MediaType, RunView.Time(a.CreatedAt),
            }));
        return ExitCodes.Ok;
    }
}
