using Baton.Auth;
using Baton.Engine;
using Baton.Storage;

namespace Baton;

/// <summary>
/// Before the server listens and the engine starts: lock the data dir (one process per SQLite file), apply
/// migrations, seed the bootstrap keys, and free the leases this node's earlier process left behind.
/// </summary>
public sealed class StartupInitializer(
    BatonOptions options,
    Database db,
    JobQueue queue,
    Agents.Sandbox sandbox,
    IConfiguration config,
    TimeProvider time,
    ILogger<StartupInitializer> logger) : IHostedService, IDisposable
{
    private FileStream? _lock;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        CreateDataDir(options);
        // Workspaces and scratch folders hold repository code and agents' output: the owner's only, too.
        if (!Directory.Exists(options.WorkDir) && !OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(options.WorkDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Directory.CreateDirectory(options.WorkDir);
        Directory.CreateDirectory(Path.Combine(options.DataDir, "profiles"));
        if (options.Database.SqlitePath is { } sqlitePath)
        {
            // One process owns an SQLite file; PostgreSQL is shared by design.
            Directory.CreateDirectory(Path.GetDirectoryName(sqlitePath)!);
            try
            {
                _lock = new FileStream(sqlitePath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                throw new InvalidOperationException(
                    $"another Baton process is using {sqlitePath}; stop it, or give this one its own BATON_DATA_DIR");
            }
        }

        await db.MigrateAsync(time, cancellationToken);

        if (options.AdminToken is { } token)
        {
            if (token.Length < 16)
            {
                throw new InvalidOperationException("BATON_ADMIN_TOKEN must be at least 16 characters");
            }
            if (await ApiKeys.EnsureAsync(db, "bootstrap-admin", token, Roles.Admin, time) is { } revoked)
            {
                throw new InvalidOperationException(
                    $"BATON_ADMIN_TOKEN is the token of the key '{revoked.Name}' ({revoked.Id}), which was revoked at {Times.FromMs(revoked.RevokedAt):u} "
                    + "and stays revoked; set BATON_ADMIN_TOKEN to a new token (at least 16 characters), or unset it");
            }
        }
        if (options.LocalAdminKey
            && await ApiKeys.EnsureAsync(db, "local-admin", LocalAdminToken.ReadOrCreate(options.LocalAdminTokenPath), Roles.Admin, time) is { } revokedLocal)
        {
            throw new InvalidOperationException(
                $"the local admin key in {options.LocalAdminTokenPath} ({revokedLocal.Id}) was revoked at {Times.FromMs(revokedLocal.RevokedAt):u} "
                + "and stays revoked; delete that file and start again for a new key");
        }
        var workers = await Agents.WorkerFiles.LoadAsync(db, Path.Combine(options.DataDir, "workers"), time, logger, cancellationToken);
        if (workers > 0)
        {
            logger.LogInformation("Loaded {Count} worker(s) from {Folder}", workers, Path.Combine(options.DataDir, "workers"));
        }
        foreach (var name in await Ops.KnownSecrets.AddAsync(Ops.Redactor.Process, db, config, cancellationToken))
        {
            logger.LogWarning("{Setting} names {Name}, which is unset or shorter than {Length} characters: its value is not redacted",
                Ops.Redactor.ExtraNamesSetting, name, Ops.Redactor.MinSecretLength);
        }
        await sandbox.LogStatusAsync();
        var freed = await queue.ReleaseOwnLeasesAsync(cancellationToken);
        if (freed > 0)
        {
            logger.LogWarning("Took over {Count} job(s) left leased by this node ({NodeId}) before it stopped; their work resumes now", freed, queue.NodeId);
        }
        // Agents of this node that another node recorded as lost while this one was down still run here, and no other
        // node can stop them. (Those still recorded as running are stopped when their job is claimed again, which
        // records it.) An agent is an orphan of its run or execution only while /proc says so: a reused pid is safe.
        var lost = await db.ReadAsync(c => ExecutionStore.LostOnNodeAsync(c, queue.NodeId), cancellationToken);
        var stopped = lost.Count(e => Agents.ProcessRunner.KillOrphan(e.Pid, e.RunId ?? e.Id));
        if (stopped > 0)
        {
            logger.LogWarning("Stopped {Count} agent(s) this node ({NodeId}) left running when it stopped, whose executions other nodes recorded as lost", stopped, queue.NodeId);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The database holds intakes and artifacts: the data dir is its owner's only.</summary>
    public static void CreateDataDir(BatonOptions options)
    {
        if (Directory.Exists(options.DataDir))
        {
            return;
        }
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(options.DataDir);
        }
        else
        {
            Directory.CreateDirectory(options.DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public void Dispose() => _lock?.Dispose();
}

/// <summary>The admin key `baton up` keeps in the data dir, readable by its owner only.</summary>
public static class LocalAdminToken
{
    public static string ReadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length >= 16)
            {
                if (!OperatingSystem.IsWindows())
                {
                    // A key file copied in or loosened by hand is made private again.
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
                return existing;
            }
        }
        var token = ApiKeys.NewToken();
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(token);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return token;
    }

    public static string? TryRead(string path) =>
        File.Exists(path) && File.ReadAllText(path).Trim() is { Length: >= 16 } token ? token : null;
}
