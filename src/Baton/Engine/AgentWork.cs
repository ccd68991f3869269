using Baton.Agents;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;

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

    /// <summary>
    /// The owner's workspace (reset to its last commit) when it has a repository, else a scratch folder. A fork's
    /// (<paramref name="fork"/>) is made on a branch that starts at its parent's commit.
    /// </summary>
    public async Task<Workplace> PrepareAsync(string ownerId, string? repositoryId, CancellationToken ct, ForkStart? fork = null)
    {
        if (repositoryId is null)
        {
            var scratch = Path.Combine(options.WorkDir, "scratch", ownerId);
            Directory.CreateDirectory(scratch);
            return new Workplace(null, scratch, null);
        }
        var repository = await db.ReadAsync(c => RepositoryStore.FindAsync(c, null, repositoryId), ct)
            ?? throw new AgentFailedException($"repository '{repositoryId}' no longer exists");
        var workspace = await workspaces.EnsureAsync(ownerId, repository, ct, fork);
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
        db.WriteAsync((c, tx) => ExecutionStore.RecordPidAsync(c, tx, executionId, pid));

    /// <summary>
    /// A phase's check command, in the sandbox like an agent (repository code runs: its tests), with the network only
    /// when the phase's worker has it: the check runs code the agent wrote, so it must not be the agent's way out.
    /// Like an agent, it is the execution's process while it runs, so a restart after a crash stops it.
    /// </summary>
    public async Task<CheckResult> RunCheckAsync(IReadOnlyList<string> argv, Workplace place, string ownerId, string executionId, bool network, LogSink log, CancellationToken ct)
    {
        var command = string.Join(' ', argv);
        await log.WriteAsync("info", $"$ {command}");
        var environment = ProcessRunner.BaseEnvironment();
        environment["BATON_RUN_ID"] = ownerId;
        var spec = await sandbox.WrapAsync(new ProcessSpec(argv[0], argv.Skip(1).ToList(), place.Directory, environment),
            new SandboxLayout(place.Directory, ExecutionDirectory(executionId), place.Git, network));
        var (code, output) = await ProcessRunner.CaptureAsync(
            spec,
            ct,
            (stream, line) => log.WriteAsync(stream == "stderr" ? "warn" : "info", line),
            Limits,
            pid => RecordPidAsync(executionId, pid));
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
/// Lines leave the buffer only after the transaction that wrote them has committed, so a rollback loses none. One
/// flush at a time (a second one would write the same lines again); the flush gate may be held while waiting for the
/// database, but the buffer's lock never is. Before the execution's finish transaction, which takes the last lines
/// (<see cref="AddBuffered"/>), <see cref="SealAsync"/> waits out a flush in flight and stops further ones.
/// </remarks>
public sealed class LogSink(Database db, EngineSignals signals, TimeProvider time, string ownerId, string? phase, int? iteration, JobRow fence) : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly List<(string Level, string Message)> _pending = [];
    private DateTimeOffset _lastFlush = time.GetUtcNow();
    private bool _flushScheduled;
    private bool _sealed;
    private bool _closed;

    public async Task WriteAsync(string level, string message)
    {
        bool flushNow;
        var schedule = false;
        lock (_lock)
        {
            // Redacted whole (ADR 40), before the cut, which could leave half a secret.
            message = Ops.Redactor.Process.Redact(message);
            _pending.Add((level, message.Length > 8192 ? message[..8192] + "…" : message));
            flushNow = _pending.Count >= 200 || time.GetUtcNow() - _lastFlush >= Interval;
            if (!flushNow && !_flushScheduled)
            {
                _flushScheduled = schedule = true;
            }
        }
        if (flushNow)
        {
            await FlushAsync(closing: false);
        }
        else if (schedule)
        {
            // A line followed by silence still shows up within the interval, not when the program ends.
            _ = FlushLaterAsync();
        }
    }

    /// <summary>Waits for a flush in flight, then leaves the rest to the finish transaction (or to disposal, should it fail).</summary>
    public async Task SealAsync()
    {
        await _flushing.WaitAsync();
        lock (_lock)
        {
            _sealed = true;
        }
        _flushing.Release();
    }

    /// <summary>
    /// Inside the caller's transaction: writes the buffered lines, which stay buffered until <see cref="Written"/> is
    /// told the transaction committed. Null when the lease is gone: then nothing may land.
    /// </summary>
    public async Task<int?> WriteBufferedAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx)
    {
        if (!await JobQueue.HoldsLeaseAsync(c, tx, fence))
        {
            return null;
        }
        var events = new EventBatch();
        var count = AddBuffered(events);
        await events.WriteAsync(c, tx);
        return count;
    }

    /// <summary>
    /// As <see cref="WriteBufferedAsync"/>, into the events of a transaction whose first write was the fence
    /// (<see cref="JobQueue.FenceAsync"/>).
    /// </summary>
    public int AddBuffered(EventBatch events)
    {
        List<(string Level, string Message)> batch;
        lock (_lock)
        {
            batch = _closed ? [] : [.. _pending];
        }
        var now = time.GetUtcNow();
        foreach (var (level, message) in batch)
        {
            events.AddLog(ownerId, phase, iteration, level, message, now);
        }
        return batch.Count;
    }

    /// <summary>After the transaction that wrote the lines committed: they leave the buffer (all of them, lease gone).</summary>
    public void Written(int? lines, bool close)
    {
        lock (_lock)
        {
            if (lines is { } count && !_closed)
            {
                _pending.RemoveRange(0, Math.Min(count, _pending.Count));
            }
            else
            {
                _pending.Clear();
            }
            _lastFlush = time.GetUtcNow();
            _closed |= close || lines is null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync(closing: true);
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
            await FlushAsync(closing: false);
        }
        catch (Exception ex) when (db.Dialect.IsDatabaseError(ex) || ex is ObjectDisposedException or InvalidOperationException)
        {
            // The lines stay buffered: the next flush, the finish transaction or the closing flush writes them.
        }
    }

    /// <param name="closing">The closing flush, which writes even after <see cref="SealAsync"/> (the finish having failed).</param>
    private async Task FlushAsync(bool closing)
    {
        await _flushing.WaitAsync();
        try
        {
            lock (_lock)
            {
                if (_closed || (_sealed && !closing) || _pending.Count == 0)
                {
                    return;
                }
            }
            var written = await db.WriteAsync((c, tx) => WriteBufferedAsync(c, tx));
            Written(written, close: false);
            if (written > 0)
            {
                signals.EventsCommitted();
            }
        }
        finally
        {
            _flushing.Release();
        }
    }
}
