using Baton.Agents;
using Baton.Storage;
using Dapper;

namespace Baton.Workspaces;

public sealed class RepositoryRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Url { get; set; } = "";
    public string DefaultBranch { get; set; } = "";
    public long CreatedAt { get; set; }
}

public sealed class WorkspaceRow
{
    public string Id { get; set; } = "";
    public string RepositoryId { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public string Path { get; set; } = "";
    public string Branch { get; set; } = "";
    public string BaseCommit { get; set; } = "";
    public string Status { get; set; } = "";
    public long CreatedAt { get; set; }
}

/// <summary>What a phase changed, as git committed it.</summary>
public sealed record PhaseCommit(string Commit, string Diff, int FilesChanged);

/// <summary>
/// Workspaces are git worktrees on branch `baton/&lt;run or execution id&gt;`, made with the `git` program from a
/// repository: a local repository directly (the branch shows up in it), a URL through a clone in the data dir.
/// </summary>
public sealed class GitWorkspaces(Database db, BatonOptions options, TimeProvider time, ILogger<GitWorkspaces> logger)
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(24);

    private readonly SemaphoreSlim _gitGate = new(1, 1);

    public string Root => System.IO.Path.Combine(options.WorkDir, "workspaces");

    /// <summary>The owner's workspace, made on first use; the same one for every phase of a run.</summary>
    public async Task<WorkspaceRow> EnsureAsync(string ownerId, RepositoryRow repository, CancellationToken ct)
    {
        var existing = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<WorkspaceRow>(
            "SELECT * FROM workspaces WHERE owner_id = @ownerId AND status = 'active'", new { ownerId }), ct);
        if (existing is not null && Directory.Exists(existing.Path))
        {
            return existing;
        }
        // One git operation on a repository at a time: worktree add/remove lock the repository's metadata.
        await _gitGate.WaitAsync(ct);
        try
        {
            var source = await SourceAsync(repository, ct);
            var id = existing?.Id ?? Ids.New("wsp", time);
            var path = System.IO.Path.Combine(Root, id);
            var branch = $"baton/{ownerId}";
            Directory.CreateDirectory(Root);
            await GitAsync(source, ct, "worktree", "prune");
            var branchExists = (await GitCodeAsync(source, ct, "rev-parse", "--verify", "--quiet", $"refs/heads/{branch}")) == 0;
            if (!Directory.Exists(path))
            {
                // A crash between `worktree add` and the row below leaves the branch: pick it up rather than fail.
                if (branchExists)
                {
                    await GitAsync(source, ct, "worktree", "add", path, branch);
                }
                else
                {
                    await GitAsync(source, ct, "worktree", "add", "-b", branch, path, repository.DefaultBranch);
                }
            }
            var baseCommit = (await GitAsync(path, ct, "rev-parse", "HEAD")).Trim();
            var row = new WorkspaceRow
            {
                Id = id,
                RepositoryId = repository.Id,
                OwnerId = ownerId,
                Path = path,
                Branch = branch,
                BaseCommit = baseCommit,
                Status = "active",
                CreatedAt = time.GetUtcNow().ToMs(),
            };
            await db.WriteAsync((c, tx) => c.ExecuteAsync(
                """
                INSERT INTO workspaces(id, repository_id, owner_id, path, branch, base_commit, status, created_at)
                VALUES (@Id, @RepositoryId, @OwnerId, @Path, @Branch, @BaseCommit, @Status, @CreatedAt)
                ON CONFLICT(owner_id) DO UPDATE SET path = excluded.path, status = 'active', deleted_at = NULL
                """, row, tx), ct);
            return row;
        }
        finally
        {
            _gitGate.Release();
        }
    }

    /// <summary>Back to the last phase's commit: an execution interrupted by a crash leaves no half-done edits behind.</summary>
    public async Task ResetAsync(WorkspaceRow workspace, CancellationToken ct)
    {
        await GitAsync(workspace.Path, ct, "reset", "--hard", "--quiet", "HEAD");
        await GitAsync(workspace.Path, ct, "clean", "-fd", "--quiet");
    }

    /// <summary>Commits whatever the agent changed (an empty commit if nothing), so every phase is one commit.</summary>
    public async Task<PhaseCommit> CommitAsync(WorkspaceRow workspace, string message, CancellationToken ct)
    {
        await GitAsync(workspace.Path, ct, "add", "-A");
        await GitAsync(workspace.Path, ct, "-c", "user.name=Baton", "-c", "user.email=baton@localhost", "commit", "--allow-empty", "--no-verify", "--quiet", "-m", message);
        var commit = (await GitAsync(workspace.Path, ct, "rev-parse", "HEAD")).Trim();
        var diff = await GitAsync(workspace.Path, ct, "diff", "--no-color", "HEAD~1", "HEAD");
        var numstat = await GitAsync(workspace.Path, ct, "diff", "--numstat", "HEAD~1", "HEAD");
        var files = numstat.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        return new PhaseCommit(commit, diff, files);
    }

    public async Task DeleteAsync(WorkspaceRow workspace, CancellationToken ct)
    {
        var repository = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<RepositoryRow>(
            "SELECT * FROM repositories WHERE id = @RepositoryId", workspace), ct);
        await _gitGate.WaitAsync(ct);
        try
        {
            if (repository is not null && SourcePath(repository) is { } source && Directory.Exists(source))
            {
                // The branch stays: it holds the agent's work for people to review and merge.
                await GitCodeAsync(source, ct, "worktree", "remove", "--force", workspace.Path);
                await GitCodeAsync(source, ct, "worktree", "prune");
            }
            if (Directory.Exists(workspace.Path))
            {
                Directory.Delete(workspace.Path, recursive: true);
            }
        }
        finally
        {
            _gitGate.Release();
        }
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            "UPDATE workspaces SET status = 'deleted', deleted_at = @now WHERE id = @Id",
            new { workspace.Id, now = time.GetUtcNow().ToMs() }, tx), ct);
    }

    /// <summary>
    /// Removes workspaces whose run or execution ended more than a TTL ago, and folders under the workspaces root
    /// that no active workspace owns (left by a crash or deleted by hand). Run at start-up and every hour.
    /// </summary>
    public async Task<int> SweepAsync(TimeSpan ttl, CancellationToken ct)
    {
        var cutoff = (time.GetUtcNow() - ttl).ToMs();
        var expired = (await db.ReadAsync(c => c.QueryAsync<WorkspaceRow>(
            """
            SELECT w.* FROM workspaces w
            WHERE w.status = 'active' AND (
                EXISTS (SELECT 1 FROM runs r WHERE r.id = w.owner_id AND r.completed_at IS NOT NULL AND r.completed_at < @cutoff)
                OR EXISTS (SELECT 1 FROM executions e WHERE e.id = w.owner_id AND e.completed_at IS NOT NULL AND e.completed_at < @cutoff))
            """, new { cutoff }), ct)).ToList();
        foreach (var workspace in expired)
        {
            await DeleteAsync(workspace, ct);
        }
        var removed = expired.Count;
        if (Directory.Exists(Root))
        {
            var active = (await db.ReadAsync(c => c.QueryAsync<string>("SELECT path FROM workspaces WHERE status = 'active'"), ct)).ToHashSet();
            foreach (var folder in Directory.EnumerateDirectories(Root).Where(f => !active.Contains(f)))
            {
                logger.LogInformation("Removing orphaned workspace folder {Folder}", folder);
                Directory.Delete(folder, recursive: true);
                removed++;
            }
        }
        return removed;
    }

    /// <summary>Is this a repository git can make worktrees from? Local paths are checked now; URLs when first used.</summary>
    public static async Task<string?> ProblemWithAsync(string url, string branch, CancellationToken ct)
    {
        if (!IsLocal(url))
        {
            return null;
        }
        if (!Directory.Exists(url))
        {
            return $"'{url}' is neither an existing folder nor a git URL";
        }
        if (await GitCodeAsync(url, ct, "rev-parse", "--git-dir") != 0)
        {
            return $"'{url}' is not a git repository";
        }
        if (await GitCodeAsync(url, ct, "rev-parse", "--verify", "--quiet", $"{branch}^{{commit}}") != 0)
        {
            return $"the repository has no branch '{branch}' with a commit";
        }
        return null;
    }

    /// <summary>
    /// The git folders of a workspace, for the agent sandbox: worked out from the repository, never read from the
    /// workspace's `.git` file, which the agent can rewrite. Null when the layout is not the usual one.
    /// </summary>
    public WorktreeGitDirs? GitDirsOf(RepositoryRow repository, WorkspaceRow workspace)
    {
        if (SourcePath(repository) is not { } source)
        {
            return null;
        }
        var common = Directory.Exists(System.IO.Path.Combine(source, ".git")) ? System.IO.Path.Combine(source, ".git") : source;
        var own = System.IO.Path.Combine(common, "worktrees", System.IO.Path.GetFileName(workspace.Path));
        return Directory.Exists(System.IO.Path.Combine(common, "objects")) && Directory.Exists(own) ? new WorktreeGitDirs(common, own) : null;
    }

    public static bool IsLocal(string url) => !url.Contains("://", StringComparison.Ordinal) && !url.Contains('@', StringComparison.Ordinal);

    private string? SourcePath(RepositoryRow repository) =>
        IsLocal(repository.Url) ? repository.Url : System.IO.Path.Combine(options.WorkDir, "repos", repository.Id + ".git");

    private async Task<string> SourceAsync(RepositoryRow repository, CancellationToken ct)
    {
        var source = SourcePath(repository)!;
        if (IsLocal(repository.Url))
        {
            return source;
        }
        if (!Directory.Exists(source))
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(source)!);
            await GitAsync(options.WorkDir, ct, "clone", "--bare", "--quiet", repository.Url, source);
        }
        else
        {
            await GitAsync(source, ct, "fetch", "--quiet", "origin", $"+refs/heads/*:refs/heads/*");
        }
        return source;
    }

    private static async Task<string> GitAsync(string directory, CancellationToken ct, params string[] args)
    {
        var (code, output) = await ProcessRunner.CaptureAsync(Spec(directory, args), ct);
        if (code != 0)
        {
            throw new AgentFailedException($"git {string.Join(' ', args.Take(2))} failed ({code}): {output.Trim().Split('\n')[^1]}");
        }
        return output;
    }

    private static async Task<int> GitCodeAsync(string directory, CancellationToken ct, params string[] args) =>
        (await ProcessRunner.CaptureAsync(Spec(directory, args), ct)).ExitCode;

    private static ProcessSpec Spec(string directory, string[] args) =>
        new("git", ["-C", directory, .. args], directory, ProcessRunner.BaseEnvironment());
}
