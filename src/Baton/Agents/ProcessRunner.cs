using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Baton.Agents;

/// <summary>A program to run: never through a shell, in a folder, with exactly this environment.</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// How much of a program's output is kept: lines are cut at <see cref="MaxLineBytes"/> while they are read (the
/// rest of the line is read and dropped), and after <see cref="MaxBytes"/> bytes or <see cref="MaxLines"/> lines
/// (stdout and stderr together) one marker line says so and the rest is drained and dropped; the program runs on.
/// </summary>
public sealed record OutputLimits(int MaxLineBytes, long MaxBytes, int MaxLines)
{
    public const long DefaultMaxBytes = 10 * 1024 * 1024;
    public const int DefaultMaxLines = 100_000;

    public static readonly OutputLimits Default = new(8 * 1024, DefaultMaxBytes, DefaultMaxLines);
}

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
    /// <remarks>Lines past the output limit go to <paramref name="afterLimit"/> only, unstored (an agent's usage line still counts).</remarks>
    public static async Task<int> RunAsync(ProcessSpec spec, Func<string, string, Task> onLine, CancellationToken ct, Func<int, Task>? onStarted = null,
        OutputLimits? limits = null, Action<string, string>? afterLimit = null)
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
            var budget = new OutputBudget(limits ?? OutputLimits.Default, onLine, afterLimit);
            var stdout = PumpAsync(process.StandardOutput.BaseStream, "stdout", budget);
            var stderr = PumpAsync(process.StandardError.BaseStream, "stderr", budget);
            try
            {
                await process.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                KillGroup(process);
                await WaitQuietlyAsync(process.WaitForExitAsync(CancellationToken.None), TimeSpan.FromSeconds(2));
                // Our pipes close when the last process holding them is gone: in the sandbox that is when the kernel
                // has finished killing the pid namespace, so "cancelled" means stopped.
                try
                {
                    await WaitQuietlyAsync(Task.WhenAll(stdout, stderr), TimeSpan.FromSeconds(2));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A log write that failed on the way out: the cancel is what the caller hears about.
                }
                throw;
            }
            // Whatever the program left running in the background goes with it, and so does its hold on our pipes.
            KillGroup(process);
            await WaitQuietlyAsync(Task.WhenAll(stdout, stderr), TimeSpan.FromSeconds(5));
            return process.ExitCode;
        }
    }

    /// <summary>
    /// Runs a program to completion and returns its exit code and output (for git and check commands), within the
    /// output limits: a bigger output ends with the "[output truncated …]" line.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> CaptureAsync(ProcessSpec spec, CancellationToken ct, Func<string, string, Task>? alsoOnLine = null, OutputLimits? limits = null,
        Func<int, Task>? onStarted = null)
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
        }, ct, onStarted, limits);
        return (code, output.ToString());
    }

    /// <summary>
    /// Splits a stream into lines on the bytes (a '\n' byte never occurs inside a UTF-8 sequence), keeping at most
    /// the limit of each line: a 150 MB line costs the limit in memory, not 150 MB.
    /// </summary>
    private static async Task PumpAsync(Stream source, string stream, OutputBudget budget)
    {
        var buffer = new byte[16 * 1024];
        var kept = new byte[budget.Limits.MaxLineBytes];
        var keptLength = 0;
        long lineBytes = 0;
        int read;
        while ((read = await source.ReadAsync(buffer)) > 0)
        {
            var start = 0;
            while (start < read)
            {
                var newline = buffer.AsSpan(start, read - start).IndexOf((byte)'\n');
                var end = newline < 0 ? read : start + newline;
                var take = Math.Min(end - start, kept.Length - keptLength);
                buffer.AsSpan(start, take).CopyTo(kept.AsSpan(keptLength));
                keptLength += take;
                lineBytes += end - start;
                if (newline < 0)
                {
                    break;
                }
                await budget.LineAsync(stream, Decode(kept, keptLength, lineBytes), lineBytes + 1);
                keptLength = 0;
                lineBytes = 0;
                start = end + 1;
            }
        }
        if (lineBytes > 0)
        {
            await budget.LineAsync(stream, Decode(kept, keptLength, lineBytes), lineBytes);
        }
    }

    private static string Decode(byte[] kept, int length, long lineBytes)
    {
        var cut = lineBytes > length;
        if (!cut && length > 0 && kept[length - 1] == (byte)'\r')
        {
            length--;
        }
        var text = System.Text.Encoding.UTF8.GetString(kept, 0, length);
        // A secret the cut went through is not whole in what is kept, for a later redaction to find (ADR 40).
        return cut ? Ops.Redactor.Process.RedactCut(text) + "…" : text;
    }

    /// <summary>What one program may still write, over both of its streams.</summary>
    private sealed class OutputBudget(OutputLimits limits, Func<string, string, Task> onLine, Action<string, string>? afterLimit)
    {
        private long _bytes;
        private int _lines;
        private int _truncated;

        public OutputLimits Limits => limits;

        public async Task LineAsync(string stream, string line, long bytes)
        {
            var bytesBefore = Interlocked.Add(ref _bytes, bytes) - bytes;
            var linesBefore = Interlocked.Increment(ref _lines) - 1;
            if (bytesBefore < limits.MaxBytes && linesBefore < limits.MaxLines)
            {
                await onLine(stream, line);
                return;
            }
            if (Interlocked.Exchange(ref _truncated, 1) == 0)
            {
                var limit = linesBefore >= limits.MaxLines ? $"{limits.MaxLines} lines" : SafeFiles.Size(limits.MaxBytes);
                // On the stream that overflowed, so a capture that keeps only stdout (a diff) still says it was cut.
                await onLine(stream, $"[output truncated after {limit}: the rest of the output was read and dropped]");
            }
            afterLimit?.Invoke(stream, line);
        }
    }

    /// <summary>
    /// Whether the process with that id is still the agent of this owner, left running by a server that died (kill -9):
    /// checked in /proc, so a reused pid is left alone. Only a look: safe inside a transaction that may roll back.
    /// </summary>
    public static bool IsOrphanOf(int pid, string ownerId)
    {
        try
        {
            var environ = File.ReadAllText($"/proc/{pid}/environ");
            return environ.Split('\0').Contains($"BATON_RUN_ID={ownerId}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops such an orphan: its process group, if it still is one (<see cref="IsOrphanOf"/>). Called only once the
    /// transaction that recorded its execution as lost has committed.
    /// </summary>
    public static bool KillOrphan(int pid, string ownerId) => IsOrphanOf(pid, ownerId) && Kill(-pid, SigKill) == 0;

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
