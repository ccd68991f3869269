namespace Baton.Tests.Support;

/// <summary>
/// The host processes of one run's or execution's agent, found the way the server finds an orphan: by BATON_RUN_ID
/// in /proc/&lt;pid&gt;/environ. Inside the sandbox an agent sees only its own pid namespace, so the pids it prints
/// are not host pids; this looks from outside.
/// </summary>
public static class AgentProcesses
{
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
