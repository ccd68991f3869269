using Baton.Agents;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Workspaces;

/// <summary>What a phase changed, as git committed it.</summary>
/// <summary>
/// A phase's commit: its diff, how many paths it changed, and the first <see cref="GitWorkspaces.MaxChangedPaths"/> of
/// them as they are named (a deleted or renamed file's old path too).
/// </summary>
public sealed record PhaseCommit(string Commit, string Diff, int FilesChanged, IReadOnlyList<string> Paths);

/// <summary>Where a fork's branch starts (ADR 38): a commit of its parent's branch.</summary>
public sealed record ForkStart(string ParentRunId, string Commit)
{
    /// <summary>The run's, when it is a fork of a run with a workspace; null otherwise.</summary>
    public static ForkStart? Of(RunRow run) =>
        run is { ParentRunId: { } parent, ForkCommit: { } commit } ? new ForkStart(parent, commit) : null;
}

/// <summary>
/// Workspaces are git worktrees on branch `baton/&lt;run or execution id&gt;`, made with the `git` program (run by
/// <see cref="Git"/>, which runs no repository code) from a repository: a local repository directly (the branch
/// shows up in it), a URL through a bare clone in the work dir. Every repository is named with --git-dir (and a
/// worktree with --work-tree), never found by git from a folder an agent could have rearranged.
/// </summary>
public sealed class GitWorkspaces(Database db, BatonOptions options, TimeProvider time, NodeIdentity node, ILogger<GitWorkspaces> logger)
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(24);

    /// <summary>Said for any path outside the roots, whether or not it exists, so it tells nothing about the disk.</summary>
    public const string OutsideRoots =
        "local repositories must be inside a folder the server allows (BATON_REPO_ROOTS); this path is not, or is not allowed";

    /// <summary>What Baton's own clones hold as config: nothing anyone else wrote (an agent can write the shared config).</summary>
    private const string CloneConfig = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n";

    /// <summary>The author of Baton's commits, which is how a reset knows them from anyone else's.</summary>
    private const string BatonEmail = "baton@localhost";

    private readonly SemaphoreSlim _gitGate = new(1, 1);

    public string Root => System.IO.Path.Combine(options.WorkDir, "workspaces");

    private string Clones => System.IO.Path.Combine(options.WorkDir, "repos");

    /// <summary>
    /// The owner's workspace on this node, made on first use. A local repository's is the same folder for every phase
    /// (its run stays on the node that made it: its jobs are pinned there). A git URL's moves with the run (ADR 26):
    /// before every phase its branch is fetched from the remote, where the last phase pushed it, and this node's
    /// worktree (made here if this node has none) is set to it.
    /// </summary>
    public async Task<WorkspaceRow> EnsureAsync(string ownerId, RepositoryRow repository, CancellationToken ct, ForkStart? fork = null)
    {
        var existing = await db.ReadAsync(c => WorkspaceStore.FindActiveOfOwnerAsync(c, null, ownerId), ct);
        var local = RepositoryLocations.IsLocal(repository.Url);
        if (local && existing is not null && Directory.Exists(existing.Path))
        {
            return existing;
        }
        if (!local && existing is not null && existing.Path == System.IO.Path.Combine(Root, existing.Id) && Directory.Exists(existing.Path))
        {
            return await CatchUpAsync(existing, repository, ct);
        }
        // One git operation on a repository at a time: worktree add/remove lock the repository's metadata.
        await _gitGate.WaitAsync(ct);
        try
        {
            Directory.CreateDirectory(Root);
            var source = await SourceAsync(repository, ct);
            using var worktrees = await WorktreeLock.AcquireAsync(source, ct);
            var id = existing?.Id ?? Ids.New("wsp", time);
            var path = System.IO.Path.Combine(Root, id);
            var branch = $"baton/{ownerId}";
            var drivers = await Git.NeutralisedDriversAsync(options.WorkDir, ["--git-dir", source], ct);
            // Where the last phase, on whichever node, left the run's branch; "" when the remote has no such branch yet.
            var remoteTip = local ? null : await FetchRunBranchAsync(repository, source, ownerId, ct);
            await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "worktree", "prune");
            var branchExists = (await Git.RunAsync(options.WorkDir, drivers, ["--git-dir", source, "rev-parse", "--verify", "--quiet", $"refs/heads/{branch}"], ct)).ExitCode == 0;
            if (!Directory.Exists(path))
            {
                // A crash between `worktree add` and the row below leaves the branch: pick it up rather than fail.
                if (branchExists || remoteTip is { Length: > 0 })
                {
                    // Its worktree too, when the row's write failed (the database down) or another node of this machine
                    // made it: no active row holds it, and git refuses a branch checked out twice.
                    foreach (var stale in await WorktreesOfBranchAsync(source, drivers, branch, ct))
                    {
                        await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "worktree", "remove", "--force", stale);
                    }
                    if (remoteTip is { Length: > 0 } tip)
                    {
                        // Not checked out anywhere now, so the branch can be moved to the remote's.
                        await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "update-ref", $"refs/heads/{branch}", tip);
                    }
                    await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "worktree", "add", path, branch);
                }
                else
                {
                    if (fork is not null && !local)
                    {
                        // The parent's commit may have been made on another node: its branch, pushed there, has it.
                        await FetchRunBranchAsync(repository, source, fork.ParentRunId, ct);
                    }
                    await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "worktree", "add", "-b", branch, path, fork?.Commit ?? repository.DefaultBranch);
                }
            }
            else if (remoteTip is { Length: > 0 } tip)
            {
                // This node's worktree from an earlier phase, left when the run moved on: other nodes moved the branch since.
                await GitAsync(path, drivers, ct, [.. WorktreeArgs(source, path), "reset", "--hard", "--quiet", tip]);
            }
            var baseCommit = (await GitAsync(path, drivers, ct, [.. WorktreeArgs(source, path), "rev-parse", "HEAD"])).Trim();
            var row = new WorkspaceRow
            {
                Id = id,
                RepositoryId = repository.Id,
                OwnerId = ownerId,
                Path = path,
                Branch = branch,
                BaseCommit = baseCommit,
                // A moved run's: the reset after this drops what an unfinished execution pushed on top of it.
                FinishedCommit = local ? baseCommit : existing?.FinishedCommit ?? baseCommit,
                Status = WorkspaceStatus.Active.Wire(),
                CreatedAt = time.GetUtcNow().ToMs(),
                PinnedNode = local ? node.Id : null,
            };
            await db.WriteAsync(async (c, tx) =>
            {
                // Jobs before the workspace (the lock order). A local repository's workspace is on this node's disk only.
                await JobQueue.PinOfOwnerAsync(c, tx, ownerId, row.PinnedNode);
                await WorkspaceStore.SaveActiveAsync(c, tx, row);
            }, ct);
            row.RemoteTip = remoteTip;
            return row;
        }
        finally
        {
            _gitGate.Release();
        }
    }

    /// <summary>
    /// This node's worktree of a git URL from an earlier phase, set to where the last phase (here or on another node)
    /// pushed the branch. Outside the node's git gate: it adds and removes no worktree, and the run has one phase at a time.
    /// </summary>
    private async Task<WorkspaceRow> CatchUpAsync(WorkspaceRow workspace, RepositoryRow repository, CancellationToken ct)
    {
        var source = SourceGitDir(repository);
        ResetCloneConfig(repository, source);
        var tip = await FetchRunBranchAsync(repository, source, workspace.OwnerId, ct);
        if (tip.Length > 0)
        {
            var (args, drivers) = await WorkspaceGitAsync(workspace, ct);
            await GitAsync(workspace.Path, drivers, ct, [.. args, "reset", "--hard", "--quiet", tip]);
        }
        workspace.RemoteTip = tip;
        return workspace;
    }

    /// <summary>
    /// Fetches the run's (or execution's) branch from a git URL into <c>refs/baton/remote/&lt;owner&gt;</c> of the clone,
    /// never into the branch a worktree has checked out. Returns its commit, or "" when the remote has no such branch
    /// (the first phase, or a run from before phases pushed).
    /// </summary>
    private async Task<string> FetchRunBranchAsync(RepositoryRow repository, string source, string ownerId, CancellationToken ct)
    {
        var credential = await CredentialAsync(repository, ct);
        // A pattern refspec, so that a branch the remote lacks is no error; its '*' also matches the empty rest.
        await GitAsync(options.WorkDir, credential, ct, "--git-dir", source, "fetch", "--quiet", "--no-tags", "--prune", repository.Url,
            $"+refs/heads/baton/{ownerId}*:refs/baton/remote/{ownerId}*");
        var tip = await Git.RunAsync(options.WorkDir, credential, ["--git-dir", source, "rev-parse", "--verify", "--quiet", $"refs/baton/remote/{ownerId}^{{commit}}"], ct);
        return tip.ExitCode == 0 ? tip.Stdout.Trim() : "";
    }

    /// <summary>
    /// Pushes a git URL workspace's new commit to the run's branch on the remote, before the finish transaction
    /// records it, so whichever node takes the next phase finds it there. Only over the tip this phase started from
    /// (--force-with-lease): a node that lost its lease meanwhile cannot overwrite the commit of the node that took the
    /// phase over. Forced otherwise, since a commit of an unfinished execution may lie on top, which the reset dropped.
    /// </summary>
    private async Task PushAsync(RepositoryRow repository, string source, WorkspaceRow workspace, string commit, CancellationToken ct)
    {
        var credential = await CredentialAsync(repository, ct);
        var branch = $"refs/heads/{workspace.Branch}";
        await GitAsync(options.WorkDir, credential, ct, "--git-dir", source, "push", "--quiet", "--no-verify", $"--force-with-lease={branch}:{workspace.RemoteTip}",
            repository.Url, $"{commit}:{branch}");
        workspace.RemoteTip = commit;
    }

    /// <summary>
    /// Back to where the last finished execution left the branch: an execution interrupted by a crash leaves no
    /// half-done edits behind, nor a commit whose finish transaction never ran (ADR 17).
    /// </summary>
    public async Task ResetAsync(WorkspaceRow workspace, CancellationToken ct)
    {
        var (args, drivers) = await WorkspaceGitAsync(workspace, ct);
        // A retry from an earlier phase (ADR 38) asked for its base commit: whatever lies past it goes, anyone's. Done
        // again by every attempt until one finishes (its finish clears the request), so a crash in between redoes it.
        var target = await db.ReadAsync(c => WorkspaceStore.PendingResetAsync(c, null, workspace.OwnerId), ct)
            ?? await ResetTargetAsync(workspace, args, drivers, ct);
        await GitAsync(workspace.Path, drivers, ct, [.. args, "reset", "--hard", "--quiet", target]);
        await GitAsync(workspace.Path, drivers, ct, [.. args, "clean", "-fd", "--quiet"]);
    }

    /// <summary>
    /// The finished commit when only Baton's own commits lie past it on the branch (made by executions that never
    /// finished); HEAD when the branch is there already, or when anyone else committed on it since (work done outside
    /// Baton during an external phase is kept).
    /// </summary>
    private async Task<string> ResetTargetAsync(WorkspaceRow workspace, string[] args, List<(string Key, string Value)> drivers, CancellationToken ct)
    {
        if (workspace.FinishedCommit is not { } finished || (await GitAsync(workspace.Path, drivers, ct, [.. args, "rev-parse", "HEAD"])).Trim() == finished)
        {
            return "HEAD";
        }
        var onTop = (await Git.RunAsync(workspace.Path, drivers, [.. args, "merge-base", "--is-ancestor", finished, "HEAD"], ct)).ExitCode == 0;
        var authors = onTop ? await GitAsync(workspace.Path, drivers, ct, [.. args, "log", "--format=%ae", $"{finished}..HEAD"]) : "";
        var onlyBaton = onTop && authors.Split('\n', StringSplitOptions.RemoveEmptyEntries).All(a => a == BatonEmail);
        if (onlyBaton)
        {
            logger.LogInformation("Workspace {Workspace}: dropping commits of unfinished executions after {Commit}", workspace.Id, finished);
        }
        return onlyBaton ? finished : "HEAD";
    }

    /// <summary>Commits whatever the agent changed (an empty commit if nothing), so every phase is one commit.</summary>
    public async Task<PhaseCommit> CommitAsync(WorkspaceRow workspace, string message, CancellationToken ct)
    {
        var (args, drivers) = await WorkspaceGitAsync(workspace, ct);
        List<(string, string)> overrides =
        [
            .. drivers,
            ("user.name", "Baton"),
            ("user.email", BatonEmail),
            ("diff.noprefix", "false"),
            ("diff.mnemonicPrefix", "false"),
            ("diff.relative", "false"),
        ];
        await GitAsync(workspace.Path, overrides, ct, [.. args, "add", "-A"]);
        await GitAsync(workspace.Path, overrides, ct, [.. args, "commit", "--allow-empty", "--no-verify", "--quiet", "-m", message]);
        var commit = (await GitAsync(workspace.Path, overrides, ct, [.. args, "rev-parse", "HEAD"])).Trim();
        if (workspace.RemoteTip is not null)
        {
            var repository = await db.ReadAsync(c => RepositoryStore.FindAsync(c, null, workspace.RepositoryId), ct)
                ?? throw new AgentFailedException($"the repository of workspace {workspace.Id} is gone");
            await PushAsync(repository, SourceGitDir(repository), workspace, commit, ct);
        }
        string[] diffArgs = [.. args, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD~1", "HEAD"];
        var diff = Succeeded(await Git.RunAsync(workspace.Path, overrides, diffArgs, ct, Git.DiffLimits), diffArgs);
        // NUL-separated names are never quoted, so a name with a space, a quote, a newline or bytes that are not UTF-8
        // comes out as it is. A rename counts as its two paths, as it changed both.
        var names = await Git.RunAsync(workspace.Path, overrides, [.. args, "diff", "--name-only", "-z", "--no-renames", "HEAD~1", "HEAD"], ct, ChangedPathLimits);
        var paths = Succeeded(names, ["diff"]).Split('\0');
        // The last piece is what followed the last NUL: nothing, or a name cut at the output limit; the count comes
        // whole from --shortstat (" 3 files changed, …"; nothing for an empty commit).
        var shortstat = await GitAsync(workspace.Path, overrides, ct, [.. args, "diff", "--shortstat", "--no-renames", "HEAD~1", "HEAD"]);
        var count = int.TryParse(shortstat.Trim().Split(' ')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;
        return new PhaseCommit(commit, diff, count, paths[..^1].Take(MaxChangedPaths).ToList());
    }

    /// <summary>How many changed paths an execution lists; more are counted, not listed.</summary>
    public const int MaxChangedPaths = 10_000;

    /// <summary>`diff -z` is one "line" (NULs, no newlines): room for 10,000 long paths, and no more.</summary>
    private static readonly OutputLimits ChangedPathLimits = new(4 * 1024 * 1024, 4 * 1024 * 1024, MaxChangedPaths);

    public async Task DeleteAsync(WorkspaceRow workspace, CancellationToken ct)
    {
        var repository = await db.ReadAsync(c => RepositoryStore.FindAsync(c, null, workspace.RepositoryId), ct);
        await _gitGate.WaitAsync(ct);
        try
        {
            if (repository is not null && SourceGitDir(repository) is var source && Directory.Exists(source))
            {
                ResetCloneConfig(repository, source);
                using var worktrees = await WorktreeLock.AcquireAsync(source, ct);
                // The branch stays: it holds the agent's work for people to review and merge.
                var drivers = await Git.NeutralisedDriversAsync(options.WorkDir, ["--git-dir", source], ct);
                await Git.RunAsync(options.WorkDir, drivers, ["--git-dir", source, "worktree", "remove", "--force", workspace.Path], ct);
                await Git.RunAsync(options.WorkDir, drivers, ["--git-dir", source, "worktree", "prune"], ct);
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
        await db.WriteAsync((c, tx) => WorkspaceStore.MarkDeletedAsync(c, tx, workspace.Id, time.GetUtcNow().ToMs()), ct);
    }

    /// <summary>The worktrees of <paramref name="source"/> that have <paramref name="branch"/> checked out.</summary>
    private async Task<List<string>> WorktreesOfBranchAsync(string source, IReadOnlyList<(string Key, string Value)> drivers, string branch, CancellationToken ct)
    {
        var list = await GitAsync(options.WorkDir, drivers, ct, "--git-dir", source, "worktree", "list", "--porcelain");
        // Blocks of "worktree <path>", "HEAD <sha>", "branch refs/heads/<name>", separated by blank lines.
        return [.. list.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n'))
            .Where(lines => lines.Contains($"branch refs/heads/{branch}", StringComparer.Ordinal))
            .Select(lines => lines[0]["worktree ".Length..])];
    }

    /// <summary>
    /// Removes workspaces whose run or execution ended more than a TTL ago, and folders under the workspaces root
    /// that no active workspace owns (left by a crash or deleted by hand). Run at start-up and every hour.
    /// </summary>
    public async Task<int> SweepAsync(TimeSpan ttl, CancellationToken ct)
    {
        var cutoff = (time.GetUtcNow() - ttl).ToMs();
        var expired = (await db.ReadAsync(c => WorkspaceStore.ListEndedBeforeAsync(c, null, cutoff), ct)).ToList();
        foreach (var workspace in expired)
        {
            await DeleteAsync(workspace, ct);
        }
        var removed = expired.Count;
        if (Directory.Exists(Root))
        {
            // By id, not by path: a git URL's run that moved on to another node has its path there, and this node's
            // folder of it (named by the workspace's id, as on every node) stays for when the run comes back.
            var activeIds = (await db.ReadAsync(c => WorkspaceStore.ListActiveAsync(c, null), ct)).Select(w => w.Id).ToHashSet();
            foreach (var folder in Directory.EnumerateDirectories(Root).Where(f => !activeIds.Contains(System.IO.Path.GetFileName(f))))
            {
                logger.LogInformation("Removing orphaned workspace folder {Folder}", folder);
                Directory.Delete(folder, recursive: true);
                removed++;
            }
        }
        return removed;
    }

    /// <summary>
    /// Why a local path cannot be a repository, or null, and where it really is (links
    /// resolved), which is what gets stored. Baton's own folders are refused everywhere; outside the roots, one answer
    /// whatever the path (<see cref="OutsideRoots"/>); inside, the reason.
    /// </summary>
    public async Task<(string? Problem, string RealPath)> LocalProblemAsync(string path, string branch, CancellationToken ct)
    {
        var real = RepositoryLocations.RealPath(path);
        if (await IsBatonFolderAsync(real, ct))
        {
            return ("the path is inside Baton's data dir or work dir (workspaces, clones), which is never a repository", real);
        }
        if (!options.RepoRoots.Any(root => BatonOptions.IsInside(real, root)))
        {
            return (OutsideRoots, real);
        }
        var gitDir = System.IO.Path.Combine(real, ".git");
        if (!Directory.Exists(gitDir) || RepositoryLocations.RealPath(gitDir) != gitDir)
        {
            return ("the path is not the top folder of a git repository (a folder with a .git folder in it)", real);
        }
        var drivers = await Git.NeutralisedDriversAsync(real, ["--git-dir", gitDir], ct);
        var found = await Git.RunAsync(real, drivers, ["--git-dir", gitDir, "--work-tree", real, "rev-parse", "--verify", "--quiet", $"{branch}^{{commit}}"], ct);
        return found.ExitCode == 0 ? (null, real) : ($"the repository has no branch '{branch}' with a commit", real);
    }

    /// <summary>
    /// The git folders of a workspace, for the agent sandbox: worked out from the repository, never read from the
    /// workspace's `.git` file, which the agent can rewrite. Null when the layout is not the usual one.
    /// </summary>
    public WorktreeGitDirs? GitDirsOf(RepositoryRow repository, WorkspaceRow workspace)
    {
        var common = SourceGitDir(repository);
        var own = System.IO.Path.Combine(common, "worktrees", System.IO.Path.GetFileName(workspace.Path));
        return Directory.Exists(System.IO.Path.Combine(common, "objects")) && Directory.Exists(own) ? new WorktreeGitDirs(common, own) : null;
    }

    private async Task<bool> IsBatonFolderAsync(string real, CancellationToken ct)
    {
        string[] folders = [RepositoryLocations.RealPath(options.DataDir), RepositoryLocations.RealPath(options.WorkDir)];
        if (folders.Any(f => BatonOptions.IsInside(real, f)))
        {
            return true;
        }
        // Workspaces made before they moved to the work dir may still be elsewhere.
        var workspaces = await db.ReadAsync(c => WorkspaceStore.ActivePathsAsync(c, null), ct);
        return workspaces.Any(w => BatonOptions.IsInside(real, RepositoryLocations.RealPath(w)));
    }

    /// <summary>The repository's git dir: a local repository's .git, or Baton's bare clone of a URL.</summary>
    private string SourceGitDir(RepositoryRow repository)
    {
        if (!RepositoryLocations.IsLocal(repository.Url))
        {
            return System.IO.Path.Combine(Clones, repository.Id + ".git");
        }
        var dotGit = System.IO.Path.Combine(repository.Url, ".git");
        // A bare repository registered before Baton asked for a .git folder: named explicitly, as git now requires.
        return Directory.Exists(dotGit) ? dotGit : repository.Url;
    }

    private static string[] WorktreeArgs(string source, string path) =>
        ["--git-dir", System.IO.Path.Combine(source, "worktrees", System.IO.Path.GetFileName(path)), "--work-tree", path];

    /// <summary>The arguments naming a workspace's git dir (in its repository, not the `.git` file an agent could rewrite).</summary>
    private async Task<(string[] Args, List<(string Key, string Value)> Drivers)> WorkspaceGitAsync(WorkspaceRow workspace, CancellationToken ct)
    {
        var repository = await db.ReadAsync(c => RepositoryStore.FindAsync(c, null, workspace.RepositoryId), ct)
            ?? throw new AgentFailedException($"the repository of workspace {workspace.Id} is gone");
        var source = SourceGitDir(repository);
        ResetCloneConfig(repository, source);
        var args = WorktreeArgs(source, workspace.Path);
        if (!Directory.Exists(args[1]))
        {
            throw new AgentFailedException($"workspace {workspace.Id} is not a worktree of repository {repository.Id} any more");
        }
        return (args, await Git.NeutralisedDriversAsync(workspace.Path, args, ct));
    }

    /// <summary>Where the repository's git dir is, after checking a local one is still allowed and cloning or fetching a URL.</summary>
    private async Task<string> SourceAsync(RepositoryRow repository, CancellationToken ct)
    {
        var source = SourceGitDir(repository);
        if (RepositoryLocations.IsLocal(repository.Url))
        {
            // Registered before the roots existed, or a folder swapped for a link since: checked again at every use.
            var real = RepositoryLocations.RealPath(repository.Url);
            if (real != repository.Url || await IsBatonFolderAsync(real, ct) || !options.RepoRoots.Any(root => BatonOptions.IsInside(real, root)))
            {
                throw new AgentFailedException($"repository {repository.Id} is a local path that is not allowed: {OutsideRoots}");
            }
            return source;
        }
        var credential = await CredentialAsync(repository, ct);
        if (!Directory.Exists(source))
        {
            Directory.CreateDirectory(Clones);
            await GitAsync(options.WorkDir, credential, ct, "clone", "--bare", "--quiet", "--template=", repository.Url, source);
            ResetCloneConfig(repository, source);
        }
        else
        {
            ResetCloneConfig(repository, source);
            // From the URL as registered, not from a remote in a config an agent could have edited.
            // Not the runs' branches: a worktree may have one checked out (git refuses to move it), and each run's
            // own is fetched on its own, into another ref (FetchRunBranchAsync).
            await GitAsync(options.WorkDir, credential, ct, "--git-dir", source, "fetch", "--quiet", "--no-tags", repository.Url,
                "+refs/heads/*:refs/heads/*", "^refs/heads/baton/*");
        }
        return source;
    }

    /// <summary>Baton's clones get back the config Baton gave them, before every use.</summary>
    private void ResetCloneConfig(RepositoryRow repository, string source)
    {
        if (RepositoryLocations.IsLocal(repository.Url) || !Directory.Exists(source))
        {
            return;
        }
        var config = System.IO.Path.Combine(source, "config");
        var temporary = config + ".baton-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(temporary, CloneConfig);
        File.Move(temporary, config, overwrite: true);
        var worktreeConfig = System.IO.Path.Combine(source, "config.worktree");
        if (File.Exists(worktreeConfig))
        {
            File.Delete(worktreeConfig);
        }
    }

    /// <summary>
    /// The repository's credential as an HTTP header for its host only, from the server variable an admin named. It
    /// goes to git in the environment (GIT_CONFIG_*), never on a command line, in a URL or in a file.
    /// </summary>
    private async Task<List<(string Key, string Value)>> CredentialAsync(RepositoryRow repository, CancellationToken ct)
    {
        var env = await db.ReadAsync(c => RepositoryStore.CredentialEnvAsync(c, null, repository.Id), ct);
        if (env is null)
        {
            return [];
        }
        var value = System.Environment.GetEnvironmentVariable(env);
        if (string.IsNullOrEmpty(value))
        {
            throw new AgentFailedException($"environment variable {env} (credential_env of repository {repository.Id}) is not set on the Baton server");
        }
        if (!Uri.TryCreate(repository.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new AgentFailedException($"repository {repository.Id} has a credential but is not an http or https URL");
        }
        var userAndToken = value.Contains(':', StringComparison.Ordinal) ? value : "x-access-token:" + value;
        var basic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(userAndToken));
        // The credential, its token and the header git sends are secrets from now on (ADR 40): git may echo any of them.
        Ops.Redactor.Process.Add(value);
        Ops.Redactor.Process.Add(userAndToken[(userAndToken.IndexOf(':', StringComparison.Ordinal) + 1)..]);
        Ops.Redactor.Process.Add(basic);
        return [($"http.{uri.GetLeftPart(UriPartial.Authority)}/.extraHeader", $"Authorization: Basic {basic}")];
    }

    private static async Task<string> GitAsync(string directory, IReadOnlyList<(string Key, string Value)> overrides, CancellationToken ct, params string[] args) =>
        Succeeded(await Git.RunAsync(directory, overrides, args, ct), args);

    /// <returns>What git printed on stdout; a failure throws with git's last stderr line, redacted.</returns>
    private static string Succeeded(GitOutput result, string[] args)
    {
        if (result.ExitCode != 0)
        {
            // The subcommand, not the --git-dir/--work-tree before it ("worktree add" for worktree's).
            var at = Array.FindIndex(args, a => !a.StartsWith('-') && !a.Contains('/', StringComparison.Ordinal));
            var command = at < 0 ? "" : args[at] == "worktree" && at + 1 < args.Length ? $"worktree {args[at + 1]}" : args[at];
            var reason = result.Stderr.Trim().Split('\n')[^1];
            throw new AgentFailedException($"git {command} failed ({result.ExitCode}): {RepositoryLocations.Redact(reason)}");
        }
        return result.Stdout;
    }
}
