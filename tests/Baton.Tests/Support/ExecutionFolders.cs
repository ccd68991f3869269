namespace Baton.Tests.Support;

/// <summary>Execution folders, which the sandbox shows its agent (and its check) as `..` of its artifacts.</summary>
public static class ExecutionFolders
{
    /// <summary>
    /// The folder (other than <paramref name="except"/>) in which an agent or check has written <paramref name="marker"/>:
    /// polled, as nothing tells of a file the sandboxed process writes.
    /// </summary>
    public static async Task<string> WaitForAsync(string executions, string marker, string? except)
    {
        string? found = null;
        await Eventually.TrueAsync(() => (found = Directory.Exists(executions)
            ? Directory.EnumerateDirectories(executions).FirstOrDefault(d => d != except && File.Exists(Path.Combine(d, marker)))
            : null) is not null, $"{marker} written in an execution folder", TimeSpan.FromSeconds(60));
        return found!;
    }
}
