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
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var found = Directory.Exists(executions)
                ? Directory.EnumerateDirectories(executions).FirstOrDefault(d => d != except && File.Exists(Path.Combine(d, marker)))
                : null;
            if (found is not null)
            {
                return found;
            }
            await Task.Delay(50, limit.Token);
        }
    }
}
