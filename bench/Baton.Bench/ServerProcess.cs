using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Baton.Client;

namespace Baton.Bench;

/// <summary>
/// The real server as a process of its own — `dotnet Baton.Server.dll`, the Release build that comes with this bench —
/// on 127.0.0.1 and a free port, with its own data dir and the shipped defaults (SQLite WAL, synchronous=FULL,
/// BATON_WORKERS unless --peers-workers), or with BATON_DATABASE and BATON_ROLE as a node of a cluster. Its CPU time
/// and memory are read from /proc, so they are the server's alone, without the bench's client in them.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int ClockTicksName = 2; // _SC_CLK_TCK
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly double TicksPerSecond = SysConf(ClockTicksName);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _name;

    private ServerProcess(Process process, string dataDir, Uri url, string name)
    {
        _process = process;
        _name = name;
        DataDir = dataDir;
        Client = BatonClient.Create(url, BenchServer.AdminToken);
        // A bench stopped with Ctrl+C must not leave its server running.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    public string DataDir { get; }

    public string DatabasePath => Path.Combine(DataDir, "baton.db");

    public BatonClient Client { get; }

    public int Pid => _process.Id;

    /// <param name="dataDir">a folder made by <see cref="BenchServer.NewDataDir"/>.</param>
    /// <param name="workers">BATON_WORKERS, or null for the shipped default.</param>
    /// <param name="settings">more BATON_* settings (a node of a cluster: BATON_DATABASE, BATON_ROLE, BATON_NODE_ID).</param>
    /// <param name="name">how its output lines are marked on stderr.</param>
    public static async Task<ServerProcess> StartAsync(string dataDir, int? workers = null,
        IReadOnlyDictionary<string, string>? settings = null, string name = "server")
    {
        var url = new Uri($"http://127.0.0.1:{FreePort()}/");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(BatonHost).Assembly.Location, "--urls", url.ToString().TrimEnd('/') },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The empty folder beside the data dir: the content root holds no settings file, and not the data dir.
            WorkingDirectory = Path.Combine(Path.GetDirectoryName(dataDir)!, "app"),
        };
        // A BATON_* variable in the caller's environment must not change what is measured.
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("BATON_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(variable);
        }
        start.Environment["BATON_DATA_DIR"] = dataDir;
        start.Environment["BATON_ADMIN_TOKEN"] = BenchServer.AdminToken;
        // The bench is one client hammering the server on purpose: per-key rate limiting would measure itself.
        start.Environment["BATON_RATE_LIMIT"] = "0";
        if (workers is { } count)
        {
            start.Environment["BATON_WORKERS"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Production-like logging: warnings and errors only (per-request information logs would be measured too).
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var server = new ServerProcess(process, dataDir, url, name);
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
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>User + system CPU time of the server's threads so far (/proc/&lt;pid&gt;/stat, clock-tick resolution).</summary>
    public TimeSpan CpuTime() => CpuTimeOf(Pid, withReapedChildren: false) ?? throw new InvalidOperationException($"the server (pid {Pid}) is gone");

    /// <summary>
    /// User + system CPU time of a process so far, and with <paramref name="withReapedChildren"/> that of its children
    /// that have exited and been waited for (cutime + cstime); null when the process is gone.
    /// </summary>
    public static TimeSpan? CpuTimeOf(int pid, bool withReapedChildren)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null; // gone (not found), e.g. a backend that exited between a listing of /proc and this read
        }
        // The command name, in parentheses, may hold spaces: the fields are counted after its closing parenthesis.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime, stime, cutime and cstime are fields 14 to 17 of the line, 12th to 15th after the name.
        var ticks = Enumerable.Range(11, withReapedChildren ? 4 : 2).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>The parent of a process (PPid in /proc/&lt;pid&gt;/status), or null when the process is gone.</summary>
    public static int? ParentOf(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("PPid:", StringComparison.Ordinal));
            return int.Parse(line["PPid:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null; // gone
        }
    }

    /// <summary>The most memory the server has had resident so far: VmHWM in /proc/&lt;pid&gt;/status.</summary>
    public long PeakRssBytes()
    {
        var line = File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>
    /// Stops the server as a service manager would (SIGTERM to its PID: it drains and checkpoints), or kills it by its
    /// PID if it has not exited in time; afterwards its database can be read.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        Client.Http.Dispose();
        if (Kill(Pid, SigTerm) == 0)
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                return;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"warning: the server (pid {Pid}) did not stop within {StopTimeout} of SIGTERM; killing it");
            }
        }
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        _process.Dispose();
        BenchServer.DeleteDataDir(DataDir);
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        try
        {
            await ServerReadiness.WaitAsync(Client.Http.BaseAddress!, ReadyTimeout, () => _process.HasExited ? $"the server exited with {_process.ExitCode}:\n{Output()}" : null);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}:\n{Output()}", ex);
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
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
        // Warnings and errors only (see the logging level above): show them as they come, they may explain a number.
        Console.Error.WriteLine($"  {_name}: {line}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}
