namespace Baton.Agents;

/// <summary>The git folders a workspace's `.git` file points to: the repository's (objects, refs) and the worktree's own (index, HEAD).</summary>
public sealed record WorktreeGitDirs(string CommonDir, string WorktreeDir);

/// <summary>
/// Where one program runs: its working folder (rw), its execution's folder (rw: private HOME, TMPDIR, artifacts,
/// prompt.md), the workspace's git folders, and whether it may use the network.
/// </summary>
public sealed record SandboxLayout(string WorkingDirectory, string ExecutionDirectory, WorktreeGitDirs? Git, bool Network);

/// <summary>
/// Runs command workers and checks inside bubblewrap: their own pid, mount, ipc and uts namespaces, no capabilities,
/// and a file system of read-only system folders plus only their workspace and their execution's folder. The data
/// dir, other workspaces, the server's HOME and the server's /proc are not there. The network stays on (agents call
/// model APIs) unless the worker says `network: false`.
/// </summary>
/// <remarks>
/// bwrap (started with setsid, so the recorded pid is its process group) forks the sandbox's init, pid 1 of a new
/// pid namespace, in that same group. Killing the group (cancel, timeout, orphan clean-up) kills that init, and the
/// kernel then kills everything in the namespace: every process the agent started, even ones that left its session
/// or group. bwrap does not die with the server (a crash leaves the agent running until the next start stops it),
/// and it carries the agent's environment, so /proc/&lt;bwrap pid&gt;/environ has BATON_RUN_ID for
/// <see cref="ProcessRunner.KillOrphan"/>.
/// </remarks>
public sealed class Sandbox
{
    public const string Bubblewrap = "bubblewrap";
    public const string Off = "off";
    public const string Unavailable = "unavailable";

    /// <summary>System folders agents read: programs and libraries. Skipped when one holds the data dir or the work dir.</summary>
    private static readonly string[] SystemFolders = ["/usr", "/opt", "/nix", "/snap"];

    private static readonly string[] RootLinks = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    /// <summary>
    /// What programs need of /etc (users, DNS, certificates, alternatives, the linker); never shadow, ssh or sudoers,
    /// nor private keys (/etc/ssl/private, /etc/pki/tls/private) nor services' environments (/etc/default, /etc/environment).
    /// </summary>
    private static readonly string[] EtcEntries =
    [
        "passwd", "group", "hosts", "hostname", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "localtime", "timezone",
        "ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "pki/tls/certs", "pki/ca-trust", "crypto-policies",
        "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "mime.types", "protocols", "services", "os-release",
        "debian_version", "lsb-release", "gitconfig", "bash.bashrc", "profile", "profile.d", "inputrc", "locale.alias", "locale.conf", "dotnet",
        "python3", "python3.11", "python3.12", "python3.13", "npmrc", "fonts", "java-17-openjdk", "java-21-openjdk", "security",
    ];

    private readonly BatonOptions _options;
    /// <summary>The server's own folders (real paths): nothing that is, holds or is inside one is bound.</summary>
    private readonly string[] _private;

    /// <summary>A failed probe is tried again at a use after this long (bwrap installed, namespaces allowed); a success is kept.</summary>
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);

    private readonly Lock _probeLock = new();
    private Task<(string Mode, string? Problem)>? _probe;
    private DateTimeOffset _probedAt;

    private readonly ILogger<Sandbox> _logger;
    private readonly TimeProvider _time;

    public Sandbox(BatonOptions options, ILogger<Sandbox> logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 1 } h && Path.IsPathFullyQualified(h) ? h : null;
        _private = new[] { options.DataDir, options.WorkDir, options.Database.SqlitePath is { } db ? Path.GetDirectoryName(db) : null, home }
            .OfType<string>().Select(p => Workspaces.RepositoryLocations.RealPath(Path.GetFullPath(p))).Distinct(StringComparer.Ordinal).ToArray();
    }

    public string? BwrapPath => _options.BwrapPath ?? FindOnPath("bwrap", Environment.GetEnvironmentVariable("PATH"));

    /// <summary>The private HOME of an execution's program.</summary>
    public static string HomeOf(string executionDirectory) => Path.Combine(executionDirectory, "home");

    /// <summary>The private TMPDIR of an execution's program.</summary>
    public static string TempOf(string executionDirectory) => Path.Combine(executionDirectory, "tmp");

    /// <summary>`bubblewrap`, `off`, or `unavailable` (and why), found by running bwrap; a failure is tried again after a minute.</summary>
    public Task<(string Mode, string? Problem)> StatusAsync()
    {
        lock (_probeLock)
        {
            var failed = _probe is { IsFaulted: true } || _probe is { IsCompletedSuccessfully: true, Result.Mode: Unavailable };
            if (_probe is null || (failed && _time.GetUtcNow() - _probedAt >= RetryAfter))
            {
                _probedAt = _time.GetUtcNow();
                _probe = ProbeAsync();
            }
            return _probe;
        }
    }

    /// <summary>Says at start-up which mode is active (a warning when agents run unconfined, an error when they cannot run).</summary>
    public async Task LogStatusAsync()
    {
        switch (await StatusAsync())
        {
            case (Bubblewrap, _):
                _logger.LogInformation("Sandbox: bubblewrap ({Bwrap}); command workers and checks see only their workspace and read-only system folders", BwrapPath);
                break;
            case (Off, _):
                _logger.LogWarning("Sandbox: off (BATON_SANDBOX=off); command workers and checks run unconfined, as the server's user");
                break;
            case (_, var problem):
                _logger.LogError("Sandbox: unavailable; command workers and checks will refuse to run: {Problem}", problem);
                break;
        }
    }

    /// <summary>
    /// The program as the sandbox runs it: bwrap with the layout, or (BATON_SANDBOX=off) the program itself; either
    /// way with a private HOME and TMPDIR in the execution's folder, never the server's.
    /// </summary>
    public async Task<ProcessSpec> WrapAsync(ProcessSpec program, SandboxLayout layout)
    {
        var home = HomeOf(layout.ExecutionDirectory);
        var temp = TempOf(layout.ExecutionDirectory);
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(temp);
        var env = new Dictionary<string, string>(program.Environment, StringComparer.Ordinal) { ["HOME"] = home, ["TMPDIR"] = temp };
        var (mode, problem) = await StatusAsync();
        if (mode == Off)
        {
            return program with { Environment = env };
        }
        if (mode == Unavailable)
        {
            throw new AgentFailedException(problem!);
        }

        var args = new List<string>
        {
            // Neither --die-with-parent (its parent-death signal follows the server thread that forked bwrap, and
            // thread-pool threads retire) nor --new-session (it would take the init out of bwrap's process group;
            // the agent has no terminal anyway, setsid saw to that).
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp",
        };
        if (!layout.Network)
        {
            args.Add("--unshare-net");
        }
        foreach (var folder in ReadOnlyFolders())
        {
            args.AddRange(["--ro-bind", folder, folder]);
        }
        foreach (var link in RootLinks)
        {
            var info = new FileInfo(link);
            if (info.LinkTarget is { } target)
            {
                args.AddRange(["--symlink", target, link]);
            }
            else if (Directory.Exists(link))
            {
                args.AddRange(["--ro-bind", link, link]);
            }
        }
        foreach (var entry in EtcEntries)
        {
            args.AddRange(["--ro-bind-try", "/etc/" + entry, "/etc/" + entry]);
        }
        foreach (var file in ProgramFiles(program, layout))
        {
            args.AddRange(["--ro-bind", file, file]);
        }
        if (layout.Git is { } git)
        {
            // History is readable; Baton itself commits after the phase, so the repository's objects stay read-only.
            args.AddRange(["--ro-bind", git.CommonDir, git.CommonDir]);
        }
        args.AddRange(["--bind", layout.WorkingDirectory, layout.WorkingDirectory]);
        args.AddRange(["--bind", layout.ExecutionDirectory, layout.ExecutionDirectory]);
        if (layout.Git is { } own)
        {
            // The index is the agent's to write; which branch the worktree is on, and where it points, are not
            // (Baton commits on HEAD after the phase).
            args.AddRange(["--bind", own.WorktreeDir, own.WorktreeDir]);
            foreach (var pinned in new[] { "HEAD", "commondir", "gitdir" }.Select(f => Path.Combine(own.WorktreeDir, f)).Where(File.Exists))
            {
                args.AddRange(["--ro-bind", pinned, pinned]);
            }
        }
        args.AddRange(["--chdir", layout.WorkingDirectory, "--", program.FileName, .. program.Arguments]);
        return new ProcessSpec(BwrapPath!, args, layout.WorkingDirectory, env);
    }

    /// <summary>System folders and BATON_SANDBOX_RO_PATHS, less any that is, holds or is inside a server folder (links resolved).</summary>
    private IEnumerable<string> ReadOnlyFolders() =>
        SystemFolders.Where(f => new DirectoryInfo(f) is { Exists: true, LinkTarget: null } && !TouchesPrivate(f))
            .Concat(_options.SandboxReadOnlyPaths.Where(p => Directory.Exists(p) && !TouchesPrivate(p)));

    /// <summary>Is the path (resolved) one of the server's folders (data dir, work dir, database folder, HOME), inside one, or holding one?</summary>
    private bool TouchesPrivate(string path)
    {
        var real = Workspaces.RepositoryLocations.RealPath(path);
        return _private.Any(p => BatonOptions.IsInside(p, path) || BatonOptions.IsInside(p, real) || BatonOptions.IsInside(path, p) || BatonOptions.IsInside(real, p));
    }

    /// <summary>
    /// A program that is not already visible (a script given by path, a CLI outside /usr): the file itself, and the
    /// file a link to it resolves to, shown read-only. Never its folder, which may be the server's HOME (~/.ssh
    /// beside a script); a script's sibling files are the admin's to list in BATON_SANDBOX_RO_PATHS.
    /// </summary>
    private List<string> ProgramFiles(ProcessSpec program, SandboxLayout layout)
    {
        string? path;
        if (program.FileName.Contains('/', StringComparison.Ordinal))
        {
            path = Path.GetFullPath(program.FileName, program.WorkingDirectory);
        }
        else
        {
            var pathVariable = program.Environment.TryGetValue("PATH", out var p) ? p : Environment.GetEnvironmentVariable("PATH");
            var visible = string.Join(':', (pathVariable ?? "").Split(':').Where(IsVisible));
            if (FindOnPath(program.FileName, visible) is not null)
            {
                return [];
            }
            path = FindOnPath(program.FileName, pathVariable);
        }
        if (path is null || !File.Exists(path))
        {
            return [];
        }
        var files = new List<string>();
        foreach (var file in new[] { path, Workspaces.RepositoryLocations.RealPath(path) }.Distinct())
        {
            var folder = Path.GetDirectoryName(file)!;
            if (IsVisible(folder) || BatonOptions.IsInside(file, layout.WorkingDirectory) || BatonOptions.IsInside(file, layout.ExecutionDirectory))
            {
                continue;
            }
            if (TouchesPrivate(file))
            {
                throw new AgentFailedException(
                    $"{program.FileName} is in {folder}, inside the server's HOME, data dir or work dir, which the sandbox does not show to agents; install it elsewhere");
            }
            files.Add(file);
        }
        return files;
    }

    private bool IsVisible(string folder)
    {
        if (folder.Length == 0 || !Path.IsPathFullyQualified(folder))
        {
            return false;
        }
        var real = Workspaces.RepositoryLocations.RealPath(folder);
        return ReadOnlyFolders().Any(root => BatonOptions.IsInside(real, root))
            || RootLinks.Any(l => Directory.Exists(l) && BatonOptions.IsInside(real, Workspaces.RepositoryLocations.RealPath(l)));
    }

    private static string? FindOnPath(string program, string? path) =>
        (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private async Task<(string Mode, string? Problem)> ProbeAsync()
    {
        if (!_options.SandboxEnabled)
        {
            return (Off, null);
        }
        var bwrap = BwrapPath;
        var missing = $"command workers and checks run inside bubblewrap, which is not installed{(bwrap is null ? "" : $" at {bwrap}")}: "
            + "install the bubblewrap package (or set BATON_BWRAP to its path), or set BATON_SANDBOX=off to run them unconfined";
        if (bwrap is null || !File.Exists(bwrap))
        {
            return (Unavailable, missing);
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var (code, output) = await ProcessRunner.CaptureAsync(new ProcessSpec(bwrap,
                ["--unshare-pid", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"],
                "/", ProcessRunner.BaseEnvironment()), timeout.Token);
            return code == 0 ? (Bubblewrap, null)
                : (Unavailable, $"bubblewrap ({bwrap}) does not work here (exit code {code}: {output.Trim().Split('\n')[^1]}); "
                    + "allow unprivileged user namespaces, or set BATON_SANDBOX=off to run command workers and checks unconfined");
        }
        catch (Exception ex) when (ex is AgentFailedException or OperationCanceledException)
        {
            return (Unavailable, missing);
        }
    }
}
