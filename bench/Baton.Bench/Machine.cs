using System.Globalization;
using System.Runtime.InteropServices;

namespace Baton.Bench;

/// <summary>What the numbers were measured on; read from /proc and /etc so that a report can be compared later.</summary>
internal sealed record Machine(string Cpu, int Cores, string Memory, string Os, string Runtime, string FileSystem, string LoadAverage)
{
    public static Machine Describe(string dataRoot) => new(
        Cpu: FirstValue("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        Cores: Environment.ProcessorCount,
        Memory: FirstValue("/proc/meminfo", "MemTotal") is { } kb && long.TryParse(kb.Split(' ')[0], CultureInfo.InvariantCulture, out var k)
            ? string.Create(CultureInfo.InvariantCulture, $"{k / 1024.0 / 1024.0:0.0} GiB")
            : "unknown",
        Os: $"{OsRelease() ?? RuntimeInformation.OSDescription} (kernel {Environment.OSVersion.Version})",
        Runtime: RuntimeInformation.FrameworkDescription,
        FileSystem: FileSystemOf(dataRoot),
        LoadAverage: LoadAverageNow());

    /// <summary>The 1, 5 and 15 minute load averages: on a shared machine, what else was running.</summary>
    public static string LoadAverageNow() =>
        ReadOrNull("/proc/loadavg") is { } load ? string.Join(' ', load.Split(' ').Take(3)) : "unknown";

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? FirstValue(string path, string key) =>
        ReadOrNull(path)?.Split('\n')
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2 && parts[0].Trim() == key)
            .Select(parts => parts[1].Trim())
            .FirstOrDefault();

    private static string? OsRelease() =>
        ReadOrNull("/etc/os-release")?.Split('\n')
            .Where(line => line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
            .Select(line => line["PRETTY_NAME=".Length..].Trim('"'))
            .FirstOrDefault();

    /// <summary>The file system holding the data dirs: fsync on tmpfs is free, on a disk it is the floor of a commit.</summary>
    private static string FileSystemOf(string dir)
    {
        var full = Path.GetFullPath(dir);
        var mount = ReadOrNull("/proc/mounts")?.Split('\n')
            .Select(line => line.Split(' '))
            .Where(f => f.Length >= 3 && (full == f[1] || full.StartsWith(f[1].TrimEnd('/') + "/", StringComparison.Ordinal)))
            .MaxBy(f => f[1].Length);
        return mount is null ? "unknown" : $"{mount[2]} on {mount[0]} (mounted at {mount[1]})";
    }
}
