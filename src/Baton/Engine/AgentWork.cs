using Baton.Agents;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;
using Dapper;

namespace Baton.Engine;

/// <summary>The result of a phase's `check` command: its exit code and the tests it reported.</summary>
public sealed record CheckResult(string Command, int ExitCode, int? TestsRun, int? TestsPassed);

/// <summary>Where an execution works: the workspace (or scratch folder) and, for a workspace, its git folders.</summary>
public sealed record Workplace(WorkspaceRow? Workspace, string Directory, WorktreeGitDirs? Git);

/// <summary>
/// The parts of running an agent that phase and standalone executions share: the agent for a worker, the place it
/// works in, its live log, and the check command after it.
/// </summary>
public sealed class AgentWork(Database db, GitWorkspaces workspaces, BatonOptions options, Sandbox sandbox, EngineSignals signals, TimeProvider time)
{
    private OutputLimits Limits => OutputLimits.Default with { MaxBytes = options.OutputMaxBytes, MaxLines = options.OutputMaxLines };

    public IAgent AgentFor(WorkerDefinition worker) => worker.Kind switch
    {
        WorkerKinds.Command => new CommandAgent(worker.Config, Environment.GetEnvironmentVariable, sandbox, Limits),
        WorkerKinds.OpenAi => new OpenAiAgent(worker.Config, Environment.GetEnvironmentVariable, time),
        _ => throw new AgentFailedException($"workers of kind '{worker.Kind}' cannot run here"),
    };

    /// <summary>The owner's workspace (reset to its last commit) when it has a repository, else a scratch folder.</summary>
    public async Task<Workplace> PrepareAsync(string ownerId, string? repositoryId, CancellationToken ct)
    {
        if (repositoryId is null)
        {
            var scratch = Path.Combine(options.WorkDir, "scratch", ownerId);
            Directory.CreateDirectory(scratch);
            return new Workplace(null, scratch, null);
        }
        var repository = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<RepositoryRow>("SELECT * FROM repositories WHERE id = @repositoryId", new { repositoryId }), ct)
            ?? throw new AgentFailedException($"repository '{repositoryId}' no longer exists");
        var workspace = await workspaces.EnsureAsync(ownerId, repository, ct);
        var place = new Workplace(workspace, workspace.Path, workspaces.GitDirsOf(repository, workspace));
        RestoreGitLink(place);
        await workspaces.ResetAsync(workspace, ct);
        return place;
    }

    /// <summary>
    /// Puts the workspace's `.git` file back as git made it. An agent (or a check) may rewrite it to point at another
    /// repository, and Baton's own git, which resets and commits here, would follow it.
    /// </summary>
    public static void RestoreGitLink(Workplace place)
    {
        if (place.Git is not { } git)
        {
            return;
        }
        var link = Path.Combine(place.Directory, ".git");
        var expected = $"gitdir: {git.WorktreeDir}\n";
        var info = new FileInfo(link);
        if (info.Exists && info.LinkTarget is null && info.Length == System.Text.Encoding.UTF8.GetByteCount(expected) && File.ReadAllText(link) == expected)
        {
            return;
        }
        if (Directory.Exists(link) && new DirectoryInfo(link).LinkTarget is null)
        {
            Directory.Delete(link, recursive: true);
        }
        else if (info.Exists || info.LinkTarget is not null)
        {
            File.Delete(link);
        }
        File.WriteAllText(link, expected);
    }

    /// <summary>The execution's own folder: artifacts/, home/, tmp/ and prompt.md; the sandbox shows the agent this one only.</summary>
    public string ExecutionDirectory(string executionId) => Path.Combine(options.WorkDir, "executions", executionId);

    public string ArtifactsDirectory(string executionId)
    {
        var path = Path.Combine(ExecutionDirectory(executionId), "artifacts");
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The live log of the work done under <paramref name="fence"/>'s lease.</summary>
    public LogSink Log(string ownerId, string? phase, int? iteration, JobRow fence) => new(db, signals, time, ownerId, phase, iteration, fence);

    public Task RecordPidAsync(string executionId, int pid) =>
        db.WriteAsync((c, tx) => c.ExecuteAsync("UPDATE executions SET pid = @pid WHERE id = @executionId", new { executionId, pid }, tx));

    /// <summary>
    /// A phase's check command, in the sandbox like an agent (repository code runs: its tests), with the network only
    /// when the phase's worker has it: the check runs code the agent wrote, so it must not be the agent's way out.
    /// </summary>
    public async Task<CheckResult> RunCheckAsync(IReadOnlyList<string> argv, Workplace place, string executionId, bool network, LogSink log, CancellationToken ct)
    {
        var command = string.Join(' ', argv);
        await log.WriteAsync("info", $"$ {command}");
        var spec = await sandbox.WrapAsync(new ProcessSpec(argv[0], argv.Skip(1).ToList(), place.Directory, ProcessRunner.BaseEnvironment()),
            new SandboxLayout(place.Directory, ExecutionDirectory(executionId), place.Git, network));
        var (code, output) = await ProcessRunner.CaptureAsync(
            spec,
            ct,
            (stream, line) => log.WriteAsync(stream == "stderr" ? "warn" : "info", line),
            Limits);
        var tests = TestSummary.Parse(output);
        await log.WriteAsync(code == 0 ? "info" : "error", $"check exited with code {code}" + (tests is { } t ? $" ({t.Passed}/{t.Run} tests passed)" : ""));
        return new CheckResult(command, code, tests?.Run, tests?.Passed);
    }
}

/// <summary>
/// An agent's live log: lines are written in small batches (one transaction per batch, not per line) and every
/// batch wakes the event streams, so people watching see output while the agent still runs. Every batch is fenced by
/// the job's lease: once the work has lost it (or was cancelled, which deletes the job), nothing more lands.
/// </summary>
/// <remarks>
/// Lock order: the buffer's lock is never held while waiting for the database's write gate. A flush takes its batch
/// out inside the write transaction, so batches keep their order with the execution's finish transaction, which
/// writes the last lines (<see cref="CompleteAsync"/>) while it holds the gate.
/// </remarks>
public sealed class LogSink(Database db, EngineSignals signals, TimeProvider time, string ownerId, string? phase, int? iteration, JobRow fence) : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly Lock _lock = new();
    private readonly List<(string Level, string Message)> _pending = [];
    private DateTimeOffset _lastFlush = time.GetUtcNow();
    private bool _flushScheduled;
    private bool _closed;

    public async Task WriteAsync(string level, string message)
    {
        bool flushNow;
        var schedule = false;
        lock (_lock)
        {
            _pending.Add((level, message.Length > 8192 ? message[..8192] + "…" : message));
            flushNow = _pending.Count >= 200 || time.GetUtcNow() - _lastFlush >= Interval;
            if (!flushNow && !_flushScheduled)
            {
                _flushScheduled = schedule = true;
            }
        }
        if (flushNow)
        {
            await FlushAsync();
        }
        else if (schedule)
        {
            // A line followed by silence still shows up within the interval, not when the program ends.
            _ = FlushLaterAsync();
        }
    }

    /// <summary>Writes what is still buffered inside the caller's transaction (the execution's finish) and closes the sink.</summary>
    public async Task CompleteAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx)
    {
        if (!await JobQueue.HoldsLeaseAsync(c, tx, fence))
        {
            Take(close: true);
            return;
        }
        foreach (var (level, message) in Take(close: true))
        {
            await RunLogs.AppendAsync(c, tx, ownerId, phase, iteration, level, [message], time.GetUtcNow());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync();
        lock (_lock)
        {
            _closed = true;
        }
    }

    private async Task FlushLaterAsync()
    {
        try
        {
            await Task.Delay(Interval, time);
            lock (_lock)
            {
                _flushScheduled = false;
            }
            await FlushAsync();
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or ObjectDisposedException or InvalidOperationException)
        {
            // The closing flush or the finish transaction writes whatever is left.
        }
    }

    private async Task FlushAsync()
    {
        lock (_lock)
        {
            if (_closed || _pending.Count == 0)
            {
                return;
            }
        }
        var wrote = await db.WriteAsync(async (c, tx) =>
        {
            if (!await JobQueue.HoldsLeaseAsync(c, tx, fence))
            {
                Take(close: true);
                return false;
            }
            var batch = Take(close: false);
            foreach (var (level, message) in batch)
            {
                await RunLogs.AppendAsync(c, tx, ownerId, phase, iteration, level, [message], time.GetUtcNow());
            }
            return batch.Count > 0;
        });
        if (wrote)
        {
            signals.Events.Fire();
        }
    }

    private List<(string Level, string Message)> Take(bool close)
    {
        lock (_lock)
        {
            var batch = _closed ? [] : _pending.ToList();
            _pending.Clear();
            _lastFlush = time.GetUtcNow();
            _closed |= close;
            return batch;
        }
    }
}
