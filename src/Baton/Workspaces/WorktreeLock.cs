namespace Baton.Workspaces;

/// <summary>
/// One process at a time adds, removes or prunes worktrees of a repository: nodes on one machine share a local
/// repository's git dir, and one node's `worktree prune` in the middle of another's `worktree add` left a half-made
/// worktree ("could not open …/commondir"). An exclusive lock on a file in the git dir (flock, released when the
/// process dies); within a process the callers already take turns.
/// </summary>
public sealed class WorktreeLock : IDisposable
{
    private readonly FileStream _file;

    private WorktreeLock(FileStream file) => _file = file;

    public static async Task<WorktreeLock> AcquireAsync(string gitDir, CancellationToken ct)
    {
        var path = Path.Combine(gitDir, "baton-worktrees.lock");
        while (true)
        {
            try
            {
                return new WorktreeLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException)
            {
                // Another node's git is at work on this repository.
                await Task.Delay(20, ct);
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
