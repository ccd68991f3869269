namespace Baton.Cli;

/// <summary>Where downloaded artifacts go on disk.</summary>
public static class ArtifactFiles
{
    /// <summary>
    /// <paramref name="name"/> inside <paramref name="dir"/>. Artifact names come from the server (and from agents);
    /// one that would land outside the folder (an absolute path, "..") is refused rather than written.
    /// </summary>
    public static string PathFor(string dir, string name)
    {
        var root = Path.GetFullPath(dir);
        var path = Path.GetFullPath(Path.Combine(root, name));
        if (name.Length == 0 || Path.IsPathRooted(name) || !path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new CliException($"refusing to write artifact '{name}': its name points outside {dir}");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
