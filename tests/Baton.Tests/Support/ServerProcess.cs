using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Client;

namespace Baton.Tests.Support;

/// <summary>The real server as a child process (`dotnet Baton.dll`), for tests that kill it for real.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the server on <paramref name="dataDir"/> with <paramref name="adminToken"/>, and <paramref name="environment"/> over the settings given here.</summary>
    public static async Task<ServerProcess> StartAsync(string dataDir, string adminToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var url = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(BatonHost).Assembly.Location, "--urls", url.ToString().TrimEnd('/') },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        start.Environment["BATON_DATA_DIR"] = dataDir;
        start.Environment["BATON_ADMIN_TOKEN"] = adminToken;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Test repositories live in temp folders (BatonFactory does the same).
        start.Environment["BATON_REPO_ROOTS"] = Path.GetTempPath();
        // As BatonFactory: a few workers do for these tests, and many servers share the suite's two cores.
        start.Environment["BATON_WORKERS"] = "4";
        if (environment?.ContainsKey("BATON_DATABASE") != true && TestDatabase.SettingFor(dataDir) is { } database)
        {
            start.Environment["BATON_DATABASE"] = database;
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        var server = new ServerProcess(process, url);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync();
        }
        catch
        {
            // A server that never became ready is not left running behind the failed test.
            server.Dispose();
            throw;
        }
        return server;
    }

    public BatonClient Client(string token) => BatonClient.Create(Url, token);

    /// <summary>
    /// Starts the server as an operator would and waits for it to give up at start-up: its exit code and everything it
    /// printed. (In-process, WebApplicationFactory may race the failed host's own disposal and report an
    /// ObjectDisposedException instead of the start-up error.)
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunUntilStartFailsAsync(string dataDir, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(BatonHost).Assembly.Location, "--urls", $"http://127.0.0.1:{FreePort()}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        start.Environment["BATON_DATA_DIR"] = dataDir;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        if (TestDatabase.SettingFor(dataDir) is { } database)
        {
            start.Environment["BATON_DATABASE"] = database;
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the server did not stop at start-up within 60 s:\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// `kill -9` of the server alone: no shutdown hooks, no flushing, and the agents it started live on — what an
    /// OOM kill or a crash looks like.
    /// </summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
    }

    /// <summary>Waits until the server has written <paramref name="text"/> (its console log is written asynchronously).</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (Output.Contains(text, StringComparison.Ordinal))
            {
                written.TrySetResult();
            }
        }
        // Subscribed after Append, so a line is in Output when this sees it.
        DataReceivedEventHandler onLine = (_, _) => Check();
        _process.OutputDataReceived += onLine;
        _process.ErrorDataReceived += onLine;
        try
        {
            Check();
            await written.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the server did not write '{text}' within {timeout}:\n{Output}");
        }
        finally
        {
            _process.OutputDataReceived -= onLine;
            _process.ErrorDataReceived -= onLine;
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        try
        {
            await ServerReadiness.WaitAsync(Url, TimeSpan.FromSeconds(60), () => _process.HasExited ? $"the server exited with {_process.ExitCode}:\n{Output}" : null);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}:\n{Output}", ex);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
