namespace Baton.Cli;

/// <summary>Where downloaded artifacts go on disk, and how they are written there.</summary>
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
        return path;
    }

    /// <summary>
    /// Writes <paramref name="path"/> under <paramref name="root"/> without following a symbolic link: a link in a
    /// folder between the two, or as the file itself, would send the content somewhere else, so it is refused. The
    /// file is made new (O_EXCL), so a link put there after the check is not followed either.
    /// </summary>
    public static async Task WriteAsync(string root, string path, byte[] content, CancellationToken ct)
    {
        var full = Path.GetFullPath(path);
        var current = Path.GetFullPath(root);
        foreach (var part in Path.GetRelativePath(current, full).Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, part);
            if (new FileInfo(current).LinkTarget is not null)
            {
                throw new CliException($"refusing to write {Shell.Path(full)}: {Shell.Path(current)} is a symbolic link");
            }
            if (current != full)
            {
                if (File.Exists(current))
                {
                    throw new CliException($"refusing to write {Shell.Path(full)}: {Shell.Path(current)} is a file, not a folder");
                }
                Directory.CreateDirectory(current);
            }
        }
        if (Directory.Exists(full))
        {
            throw new CliException($"refusing to write {Shell.Path(full)}: a folder of that name is in the way");
        }
        if (File.Exists(full))
        {
            File.Delete(full);
        }
        await using var stream = new FileStream(full, FileMode.CreateNew, FileAccess.Write);
        await stream.WriteAsync(content, ct);
    }
}
