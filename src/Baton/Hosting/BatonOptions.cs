namespace Baton;

/// <summary>Configuration, from BATON_* environment variables or any other configuration source.</summary>
public sealed class BatonOptions
{
    public const string LocalAdminTokenFile = "admin.token";

    public required string DataDir { get; init; }

    /// <summary>BATON_DATABASE: an SQLite file (default <c>&lt;data dir&gt;/baton.db</c>) or a PostgreSQL connection string.</summary>
    public required Storage.DatabaseSetting Database { get; init; }

    /// <summary>
    /// BATON_WORK_DIR: where workspaces, clones, scratch folders and execution folders live. Never inside the data dir,
    /// so an agent given its workspace is never given a path under the database, the keys or the profiles.
    /// </summary>
    public required string WorkDir { get; init; }

    /// <summary>
    /// BATON_REPO_ROOTS: the folders (real paths, ':'-separated like PATH) inside which an admin may register a local
    /// repository. None by default; `baton up` and `baton demo` (a local admin key, one person's machine) default to
    /// the folder holding the data dir and the user's home folder. The data and work dirs are refused even inside.
    /// </summary>
    public IReadOnlyList<string> RepoRoots { get; init; } = [];

    /// <summary>BATON_ADMIN_TOKEN: an admin key seeded at start-up.</summary>
    public string? AdminToken { get; init; }

    /// <summary>`baton up`: keep a local admin key in the data dir (mode 0600) so the CLI needs no set-up.</summary>
    public bool LocalAdminKey { get; init; }

    /// <summary>BATON_NODE_ID: this node's id (<see cref="Engine.NodeIdentity"/>); unset = one kept in the data dir.</summary>
    public string? NodeId { get; init; }

    public const string ApiRole = "api";

    public const string WorkerRole = "worker";

    /// <summary>
    /// BATON_ROLE: all (API, dashboard and engine), api (API and dashboard, no engine: stateless) or worker (the engine
    /// and /healthz, /readyz, /metrics only). api and worker need PostgreSQL.
    /// </summary>
    public string Role { get; init; } = "all";

    public int Concurrency { get; init; } = 4;

    public long MaxRequestBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>BATON_WORKSPACE_TTL: how long a finished run's workspace is kept (the branch stays for good).</summary>
    public TimeSpan WorkspaceTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>BATON_SESSION_TTL: how long a dashboard sign-in lasts, however busy its browser (then sign in again).</summary>
    public TimeSpan SessionTtl { get; init; } = TimeSpan.FromHours(12);

    /// <summary>BATON_RATE_LIMIT: requests per second per API key (bursts of twice that); 0 turns limiting off.</summary>
    public int RateLimit { get; init; } = 100;

    /// <summary>BATON_PUBLIC_URL: the dashboard's address as people reach it, for links in webhook deliveries; none when unset.</summary>
    public string? PublicUrl { get; init; }

    /// <summary>BATON_SANDBOX: on (default) runs command workers and checks inside bubblewrap; off runs them unconfined.</summary>
    public bool SandboxEnabled { get; init; } = true;

    /// <summary>BATON_BWRAP: the bubblewrap program; unset = `bwrap` found on PATH.</summary>
    public string? BwrapPath { get; init; }

    /// <summary>BATON_SANDBOX_RO_PATHS: more folders agents may read (':'-separated), e.g. where a CLI is installed.</summary>
    public IReadOnlyList<string> SandboxReadOnlyPaths { get; init; } = [];

    /// <summary>BATON_OUTPUT_MAX_BYTES and BATON_OUTPUT_MAX_LINES: what is kept of one program's output.</summary>
    public long OutputMaxBytes { get; init; } = Agents.OutputLimits.DefaultMaxBytes;

    public int OutputMaxLines { get; init; } = Agents.OutputLimits.DefaultMaxLines;

    public string LocalAdminTokenPath => Path.Combine(DataDir, LocalAdminTokenFile);

    public static BatonOptions From(IConfiguration config)
    {
        var dataDir = Path.GetFullPath(config["BATON_DATA_DIR"] is { Length: > 0 } d ? d : ".baton");
        var database = Storage.DatabaseSetting.From(config["BATON_DATABASE"], dataDir);
        var workDir = Path.GetFullPath(config["BATON_WORK_DIR"] is { Length: > 0 } wd ? wd : dataDir.TrimEnd(Path.DirectorySeparatorChar) + "-work");
        if (IsInside(workDir, dataDir) || IsInside(dataDir, workDir))
        {
            throw new InvalidOperationException(
                $"BATON_WORK_DIR ({workDir}) must be outside the data dir ({dataDir}) and must not contain it: agents are given folders under it");
        }
        var role = config["BATON_ROLE"] is { Length: > 0 } r ? r : "all";
        if (role is not ("all" or "api" or "worker"))
        {
            throw new InvalidOperationException($"BATON_ROLE must be api, worker or all, not '{role}'");
        }
        if (role != "all" && !database.IsPostgres)
        {
            // One process owns an SQLite file, so an api node would have no engine and a worker node no API.
            throw new InvalidOperationException(
                $"BATON_ROLE={role} splits the API and the engine across processes, which needs PostgreSQL (BATON_DATABASE=postgres://…); on SQLite use all");
        }
        // Workers are cheap async loops, and more of them share each group commit (ADR 22); agents are bounded by
        // their worker's `concurrency`.
        var workers = Engine.EngineOptions.DefaultConcurrency;
        if (config["BATON_WORKERS"] is { Length: > 0 } w && (!int.TryParse(w, out workers) || workers is < 1 or > 256))
        {
            throw new InvalidOperationException($"BATON_WORKERS must be a whole number from 1 to 256, not '{w}'");
        }
        var rateLimit = 100;
        if (config["BATON_RATE_LIMIT"] is { Length: > 0 } r2 && (!int.TryParse(r2, out rateLimit) || rateLimit < 0))
        {
            throw new InvalidOperationException($"BATON_RATE_LIMIT must be a whole number of requests per second (0 = off), not '{r2}'");
        }
        var ttl = TimeSpan.FromHours(24);
        if (config["BATON_WORKSPACE_TTL"] is { Length: > 0 } ttlText && !Profiles.Durations.TryParse(ttlText, out ttl))
        {
            throw new InvalidOperationException($"BATON_WORKSPACE_TTL must be a duration such as 30m, 24h or 7d, not '{ttlText}'");
        }
        var sessionTtl = TimeSpan.FromHours(12);
        if (config["BATON_SESSION_TTL"] is { Length: > 0 } sessionText && (!Profiles.Durations.TryParse(sessionText, out sessionTtl) || sessionTtl <= TimeSpan.Zero))
        {
            throw new InvalidOperationException($"BATON_SESSION_TTL must be a duration such as 30m, 12h or 7d, not '{sessionText}'");
        }
        var sandbox = config["BATON_SANDBOX"] is { Length: > 0 } sb ? sb.ToLowerInvariant() : "on";
        if (sandbox is not ("on" or "off"))
        {
            throw new InvalidOperationException($"BATON_SANDBOX must be on or off, not '{config["BATON_SANDBOX"]}'");
        }
        var readOnly = (config["BATON_SANDBOX_RO_PATHS"] ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var path in readOnly)
        {
            if (!Path.IsPathFullyQualified(path) || IsInside(dataDir, Path.GetFullPath(path)) || IsInside(workDir, Path.GetFullPath(path))
                || IsInside(Path.GetFullPath(path), dataDir) || IsInside(Path.GetFullPath(path), workDir))
            {
                throw new InvalidOperationException(
                    $"BATON_SANDBOX_RO_PATHS: '{path}' must be an absolute folder that neither holds nor is inside the data dir or BATON_WORK_DIR");
            }
        }
        var outputBytes = WholeNumber(config, "BATON_OUTPUT_MAX_BYTES", Agents.OutputLimits.DefaultMaxBytes, 1024, long.MaxValue);
        var outputLines = (int)WholeNumber(config, "BATON_OUTPUT_MAX_LINES", Agents.OutputLimits.DefaultMaxLines, 10, int.MaxValue);
        var nodeId = config["BATON_NODE_ID"] is { Length: > 0 } n ? n : null;
        if (nodeId is not null && !Engine.NodeIdentity.IsValid(nodeId))
        {
            throw new InvalidOperationException($"BATON_NODE_ID must be 1 to 64 letters, digits, '.', '_' or '-', not '{nodeId}'");
        }
        var localAdminKey = string.Equals(config["BATON_LOCAL_ADMIN_KEY"], "true", StringComparison.OrdinalIgnoreCase);
        var publicUrl = config["BATON_PUBLIC_URL"] is { Length: > 0 } p ? p : null;
        if (publicUrl is not null && (!Uri.TryCreate(publicUrl, UriKind.Absolute, out var publicUri) || publicUri.Scheme is not ("http" or "https")))
        {
            throw new InvalidOperationException($"BATON_PUBLIC_URL must be an absolute http or https URL, such as https://baton.example.com, not '{publicUrl}'");
        }
        return new BatonOptions
        {
            PublicUrl = publicUrl,
            RepoRoots = RepoRootsFrom(config["BATON_REPO_ROOTS"], dataDir, localAdminKey),
            SandboxEnabled = sandbox == "on",
            BwrapPath = config["BATON_BWRAP"] is { Length: > 0 } bwrap ? bwrap : null,
            SandboxReadOnlyPaths = readOnly.Select(Path.GetFullPath).ToList(),
            OutputMaxBytes = outputBytes,
            OutputMaxLines = outputLines,
            WorkspaceTtl = ttl,
            SessionTtl = sessionTtl,
            DataDir = dataDir,
            WorkDir = workDir,
            Database = database,
            AdminToken = config["BATON_ADMIN_TOKEN"] is { Length: > 0 } t ? t : null,
            LocalAdminKey = localAdminKey,
            Role = role,
            NodeId = nodeId,
            Concurrency = workers,
            RateLimit = rateLimit,
        };
    }

    private static List<string> RepoRootsFrom(string? setting, string dataDir, bool localAdminKey)
    {
        if (setting is null && localAdminKey)
        {
            // One person's machine: where they ran `baton up` (the data dir's parent) and their home folder.
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return new[] { Path.GetDirectoryName(dataDir), home }
                .Where(f => !string.IsNullOrEmpty(f) && Path.IsPathRooted(f) && f != Path.GetPathRoot(f))
                .Select(f => Workspaces.RepositoryLocations.RealPath(f!))
                .Distinct(StringComparer.Ordinal)
                .ToList();
        }
        var roots = new List<string>();
        foreach (var entry in (setting ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Path.IsPathRooted(entry))
            {
                throw new InvalidOperationException($"BATON_REPO_ROOTS must list absolute folders separated by '{Path.PathSeparator}'; '{entry}' is not absolute");
            }
            if (!Directory.Exists(entry))
            {
                throw new InvalidOperationException($"BATON_REPO_ROOTS names '{entry}', which is not an existing folder");
            }
            roots.Add(Workspaces.RepositoryLocations.RealPath(entry));
        }
        return roots.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>A whole-number setting from <paramref name="min"/> to <paramref name="max"/>; unset gives <paramref name="fallback"/>.</summary>
    public static long WholeNumber(IConfiguration config, string name, long fallback, long min, long max)
    {
        if (config[name] is not { Length: > 0 } text)
        {
            return fallback;
        }
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"{name} must be a whole number from {min} to {max}, not '{text}'");
    }

    /// <summary>Is <paramref name="path"/> the folder <paramref name="folder"/> or inside it (both full paths)?</summary>
    public static bool IsInside(string path, string folder)
    {
        var relative = Path.GetRelativePath(folder, path);
        return relative == "." || (relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative));
    }
}
