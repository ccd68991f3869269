using Baton.Client;

namespace Baton.Tests.Support;

/// <summary>
/// The host processes of one run's or execution's agent, found the way the server finds an orphan: by BATON_RUN_ID
/// in /proc/&lt;pid&gt;/environ. Inside the sandbox an agent sees only its own pid namespace, so the pids it prints
/// are not host pids; this looks from outside.
/// </summary>
public static class AgentProcesses
{
    /// <summary>
    /// Cancels the run whose agent is running and checks that its whole process tree, seen from the host (bwrap, the
    /// sandbox's init, the program and whatever it started), is gone within 2 s of the request.
    /// </summary>
    public static async Task CancelKillsTheTreeWithinTwoSecondsAsync(BatonClient client, string runId)
    {
        var tree = Of(runId);
        Assert.True(tree.Count >= 3, $"agent processes: {string.Join(' ', tree)}");

        var cancelled = await client.CancelAsync(runId, "stop");
        await Eventually.HoldsAsync(() => !tree.Any(IsAlive), TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(tree, IsAlive);
        Assert.Empty(Of(runId));
        Assert.Equal("cancelled", cancelled.Status);
    }

    public static IReadOnlyList<int> Of(string ownerId)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains($"BATON_RUN_ID={ownerId}") && IsAlive(pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or a kernel thread.
            }
        }
        return found;
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            return File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
