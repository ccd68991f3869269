using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Baton.Cli.Tests.Support;

/// <summary>What a finished `baton` process left behind.</summary>
public sealed record BatonResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs the real `baton` (dotnet baton.dll) as a child process, with a clean environment: no BATON_* variable
/// of the machine running the tests leaks in, and the working folder is the test's own temp folder.
/// </summary>
public static class BatonProcess
{
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    public static string BatonDll { get; } = FindBatonDll();

    public static ProcessStartInfo StartInfo(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(BatonDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("BATON_", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) || k == "NO_COLOR").ToList())
        {
            info.Environment.Remove(name);
        }
        // Nor does the config file of the machine's user: contexts there would decide where commands connect.
        info.Environment["BATON_CONFIG"] = Path.Combine(workingDirectory, "no-baton-config.json");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        return info;
    }

    /// <summary>Runs a command to completion (killed, with a failed test, if it outlives <see cref="CommandTimeout"/>).</summary>
    public static Task<BatonResult> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        RunWithInputAsync(workingDirectory, environment, null, args);

    /// <summary>As <see cref="RunAsync"/>, with <paramref name="stdin"/> piped in (and closed) when given.</summary>
    public static async Task<BatonResult> RunWithInputAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, string? stdin, params string[] args)
    {
        var info = StartInfo(workingDirectory, environment, args);
        info.RedirectStandardInput = stdin is not null;
        using var process = Process.Start(info)!;
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
                process.StandardInput.Close();
            }
            using var timeout = new CancellationTokenSource(CommandTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return new BatonResult(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            Kill(process);
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    /// <summary>A port nothing listens on right now: the OS picks it, and we let it go again.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>baton.dll as this test build produced it: next to the tests, else in src/Baton.Cli/bin/&lt;configuration&gt;/&lt;tfm&gt;.</summary>
    private static string FindBatonDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var nextToTests = Path.Combine(here.FullName, "baton.dll");
        if (File.Exists(nextToTests) && File.Exists(Path.Combine(here.FullName, "baton.runtimeconfig.json")))
        {
            return nextToTests;
        }
        var tfm = here.Name;
        var configuration = here.Parent!.Name;
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
            {
                var inSource = Path.Combine(dir.FullName, "src", "Baton.Cli", "bin", configuration, tfm, "baton.dll");
                if (File.Exists(inSource))
                {
                    return inSource;
                }
                break;
            }
        }
        throw new FileNotFoundException($"baton.dll is neither next to the tests ({here.FullName}) nor in src/Baton.Cli/bin/{configuration}/{tfm}: build the solution first");
    }
}
