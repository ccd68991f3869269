using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>One exported artifact version in index.json.</summary>
public sealed record ExportedArtifact(string Name, string Phase, int Iteration, long Size, string Sha256, string MediaType, DateTimeOffset CreatedAt, string Path);

/// <summary>index.json of an exported run: what is in the folder, so tools need not walk it.</summary>
public sealed record ExportIndex(string Format, string RunId, string Profile, string Status, DateTimeOffset ExportedAt, string Server, string Run, IReadOnlyList<ExportedArtifact> Artifacts);

/// <summary>`baton run export`: a run to a folder (run.json, artifacts/&lt;iteration&gt;/&lt;name&gt;, index.json), for archives and reviews.</summary>
public sealed class RunExportCommand : ClientCommand
{
    public const string Format = "baton-run-export/1";

    private static readonly JsonSerializerOptions Indented = new(BatonJson.Options) { WriteIndented = true };

    private readonly Argument<string> _run = RunIdArgument();
    private readonly Argument<string> _dir = new("dir") { Description = "The folder to write; it must be new or empty unless --force" };
    private readonly Option<bool> _force = new("--force") { Description = "Write into a folder that has files already (same names are overwritten)" };

    public RunExportCommand()
        : base("export", "Export a run to a folder: run.json, every artifact version and index.json.",
            "baton run export run_01JD3X... ./run-export",
            "baton run export run_01JD3X... /archive/2026/dark-mode --force")
    {
        Arguments.Add(_run);
        Arguments.Add(_dir);
        Options.Add(_force);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var runId = parseResult.GetValue(_run)!;
        var dir = Path.GetFullPath(parseResult.GetValue(_dir)!);
        if (File.Exists(dir))
        {
            throw new CliException($"{Shell.Path(dir)} is a file; give a folder", ExitCodes.Usage);
        }
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !parseResult.GetValue(_force))
        {
            throw new CliException($"{Shell.Path(dir)} is not empty; give a new folder, or --force to write into it", ExitCodes.Usage);
        }

        // The manifest first: a run that moves on meanwhile adds versions but never changes the ones listed.
        var manifest = await client.ListArtifactsAsync(runId, cancellationToken);
        Directory.CreateDirectory(dir);
        var exported = new List<ExportedArtifact>();
        foreach (var artifact in manifest.Phases.SelectMany(g => g.Artifacts))
        {
            var content = await client.DownloadArtifactAsync(runId, artifact.Name, artifact.Iteration, cancellationToken);
            var sha = Convert.ToHexStringLower(SHA256.HashData(content.Content));
            if (!string.Equals(sha, artifact.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"artifact {artifact.Name} (iteration {artifact.Iteration}) arrived with sha256 {sha}, but the manifest says {artifact.Sha256}");
            }
            var path = ArtifactFiles.PathFor(Path.Combine(dir, "artifacts", artifact.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture)), artifact.Name);
            await ArtifactFiles.WriteAsync(dir, path, content.Content, cancellationToken);
            exported.Add(new ExportedArtifact(artifact.Name, artifact.Phase, artifact.Iteration, artifact.Size, artifact.Sha256, artifact.MediaType,
                artifact.CreatedAt, Path.GetRelativePath(dir, path).Replace(Path.DirectorySeparatorChar, '/')));
        }
        var run = await client.GetRunAsync(runId, cancellationToken);
        await ArtifactFiles.WriteAsync(dir, Path.Combine(dir, "run.json"), System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(run, Indented) + "\n"), cancellationToken);
        // index.json last: a folder with one is a finished export.
        var index = new ExportIndex(Format, run.RunId, run.Profile, run.Status, DateTimeOffset.UtcNow, client.Http.BaseAddress?.AbsoluteUri.TrimEnd('/') ?? "", "run.json", exported);
        await ArtifactFiles.WriteAsync(dir, Path.Combine(dir, "index.json"), System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(index, Indented) + "\n"), cancellationToken);

        Terminal.For(parseResult).Line($"Exported {run.RunId} ({run.Status}) to {Shell.Path(dir)}: run.json, {exported.Count} artifact version(s), index.json");
        return ExitCodes.Ok;
    }
}
