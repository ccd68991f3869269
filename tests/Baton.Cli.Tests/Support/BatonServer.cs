using System.Diagnostics;
using System.Text;

namespace Baton.Cli.Tests.Support;

/// <summary>
/// `baton up` or `baton serve` as a child process on a free 127.0.0.1 port, ready once it printed its banner
/// (printed after the host started, so it is listening by then). Disposing kills the whole process tree.
/// </summary>
public sealed class BatonServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BatonServer(Process process, string url, string dataDir)
    {
        _process = process;
        Url = url;
        DataDir = dataDir;
    }

    public string Url { get; }

    public string DataDir { get; }

    public int ProcessId => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// Starts `baton &lt;command&gt; --urls http://127.0.0.1:&lt;free port&gt; --data-dir &lt;folder&gt;/data` in
    /// <paramref name="folder"/> (at <paramref name="url"/> when given: a restart on the same address), and waits for its banner.
    /// </summary>
    public static async Task<BatonServer> StartAsync(string command, string folder, IReadOnlyDictionary<string, string>? environment = null, string? url = null)
    {
        url ??= $"http://127.0.0.1:{BatonProcess.FreePort()}";
        var dataDir = Path.Combine(folder, "data");
        var info = BatonProcess.StartInfo(folder, environment, command, "--urls", url, "--data-dir", dataDir);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new BatonServer(process, url, dataDir);
        process.OutputDataReceived += (_, e) => server.OnLine(server._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(server._stderr, e.Data);
        process.Exited += (_, _) => server._ready.TrySetException(
            new InvalidOperationException($"baton {command} exited before it was ready.\nstdout:\n{server.Stdout}\nstderr:\n{server.Stderr}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var banner = await server._ready.Task.WaitAsync(StartTimeout);
            Assert.Contains(url, banner);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, as a service manager sends (Ctrl+C's SIGINT takes the same path in the host), then the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public ValueTask DisposeAsync()
    {
        BatonProcess.Kill(_process);
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private void OnLine(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (buffer)
        {
            buffer.AppendLine(line);
        }
        if (line.StartsWith("Baton is up at ", StringComparison.Ordinal) || line.StartsWith("Baton serving at ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }
    }
}
