using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Baton.Tests.Support;

/// <summary>
/// A real git server on this machine: `git daemon` on 127.0.0.1, serving the bare repositories under a folder over
/// git://, pushes included (receive-pack), as a team's remote would. Baton refuses file:// URLs, so this is how a test
/// gives it a repository it fetches and pushes over the network.
/// </summary>
public sealed class GitDaemon : IAsyncDisposable
{
    private readonly Process _process;

    private GitDaemon(Process process, int port) => (_process, Port) = (process, port);

    public int Port { get; }

    /// <summary>The git:// URL of the bare repository <paramref name="name"/> under the served folder.</summary>
    public string UrlOf(string name) => $"git://127.0.0.1:{Port}/{name}";

    public static async Task<GitDaemon> StartAsync(string servedFolder)
    {
        var port = FreePort();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process
        {
            StartInfo = new ProcessStartInfo("git",
                ["daemon", "--verbose", "--export-all", "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1", $"--port={port}", $"--base-path={servedFolder}", servedFolder])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            },
        };
        // With --verbose it says "Ready to rumble" once it listens.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Ready to rumble", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.Start();
        process.BeginErrorReadLine();
        var daemon = new GitDaemon(process, port);
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
        return daemon;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
