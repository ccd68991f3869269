using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Baton.Agents;

/// <summary>A program to run: never through a shell, in a folder, with exactly this environment.</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// Runs a program with its output streamed line by line. The program gets its own session (setsid), so stopping
/// it kills the whole process group — children, and children that ignore SIGTERM or went to the background.
/// </summary>
public static class ProcessRunner
{
    private const int SigKill = 9;
    private static readonly string? Setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>The variables a program may inherit from Baton; everything else (keys, tokens) stays behind.</summary>
    private static readonly string[] Inherited = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL", "DOTNET_ROOT"];

    public static Dictionary<string, string> BaseEnvironment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["TERM"] = "dumb", ["GIT_TERMINAL_PROMPT"] = "0" };
        foreach (var name in Inherited)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                env[name] = value;
            }
        }
        return env;
    }

    /// <returns>The exit code. Cancelling <paramref name="ct"/> kills the process group and throws.</returns>
    public static async Task<int> RunAsync(ProcessSpec spec, Func<string, string, Task> onLine, CancellationToken ct, Func<int, Task>? onStarted = null)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory,
        };
        if (Setsid is not null && !OperatingSystem.IsWindows())
        {
            start.FileName = Setsid;
            start.ArgumentList.Add(spec.FileName);
        }
        else
        {
            start.FileName = spec.FileName;
        }
        foreach (var argument in spec.Arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment.Clear();
        foreach (var (name, value) in spec.Environment)
        {
            start.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new AgentFailedException($"could not start {spec.FileName}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new AgentFailedException($"could not start {spec.FileName}: {ex.Message}");
        }
        using (process)
        {
            if (onStarted is not null)
            {
                await onStarted(process.Id);
            }
            // Agents run unattended: a program that waits for input gets end-of-file at once.
            process.StandardInput.Close();
            var stdout = PumpAsync(process.StandardOutput, "stdout", onLine);
            var stderr = PumpAsync(process.StandardError, "stderr", onLine);
            try
            {
                await process.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                KillGroup(process);
                await WaitQuietlyAsync(process.WaitForExitAsync(CancellationToken.None), TimeSpan.FromSeconds(2));
                throw;
            }
            // Whatever the program left running in the background goes with it, and so does its hold on our pipes.
            KillGroup(process);
            await WaitQuietlyAsync(Task.WhenAll(stdout, stderr), TimeSpan.FromSeconds(5));
            return process.ExitCode;
        }
    }

    /// <summary>Runs a program to completion and returns its exit code and output (for git and check commands).</summary>
    public static async Task<(int ExitCode, string Output)> CaptureAsync(ProcessSpec spec, CancellationToken ct, Func<string, string, Task>? alsoOnLine = null)
    {
        var output = new System.Text.StringBuilder();
        var code = await RunAsync(spec, async (stream, line) =>
        {
            lock (output)
            {
                output.Append(line).Append('\n');
            }
            if (alsoOnLine is not null)
            {
                await alsoOnLine(stream, line);
            }
        }, ct);
        return (code, output.ToString());
    }

    private static async Task PumpAsync(StreamReader reader, string stream, Func<string, string, Task> onLine)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            await onLine(stream, line);
        }
    }

    /// <summary>
    /// Stops an agent left running by a process that died (kill -9 of the server): its process group, if the process
    /// with that id is still the agent of this owner (checked in /proc, so a reused pid is left alone).
    /// </summary>
    public static bool KillOrphan(int pid, string ownerId)
    {
        try
        {
            var environ = File.ReadAllText($"/proc/{pid}/environ");
            if (!environ.Split('\0').Contains($"BATON_RUN_ID={ownerId}"))
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        return Kill(-pid, SigKill) == 0;
    }

    private static void KillGroup(Process process)
    {
        if (!OperatingSystem.IsWindows() && Setsid is not null)
        {
            _ = Kill(-process.Id, SigKill);
        }
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static async Task WaitQuietlyAsync(Task task, TimeSpan limit)
    {
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            // A descendant that escaped the group still holds a pipe: stop reading rather than hang.
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
