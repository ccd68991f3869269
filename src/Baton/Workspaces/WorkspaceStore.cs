using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Workspaces;

/// <summary>A workspace's status as stored (its wire name, <c>Wire()</c>, is what the SQL compares with).</summary>
public enum WorkspaceStatus
{
    Active,
    Deleted,
}

public sealed class WorkspaceRow
{
    public string Id { get; set; } = "";
    public string RepositoryId { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public string Path { get; set; } = "";
    public string Branch { get; set; } = "";
    public string BaseCommit { get; set; } = "";

    /// <summary>The commit the last finished execution left the branch at (null for workspaces made before it was kept).</summary>
    public string? FinishedCommit { get; set; }
    public string Status { get; set; } = "";
    public long CreatedAt { get; set; }

    /// <summary>The node whose disk holds the workspace, for a local-path repository (its jobs wait for it); null when it may move.</summary>
    public string? PinnedNode { get; set; }

    /// <summary>
    /// Not stored: for a git URL, the run's branch on the remote as this phase fetched it ("" when there was none),
    /// which the phase's push must find unchanged; null for a local repository, which pushes nothing.
    /// </summary>
    public string? RemoteTip { get; set; }
}

/// <summary>A workspace with its repository and whether its owner is a run or a standalone execution.</summary>
public sealed class WorkspaceRecord
{
    public string Id { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public bool OwnerIsRun { get; set; }
    public string Path { get; set; } = "";
    public string Branch { get; set; } = "";
    public string Status { get; set; } = "";
    public string RepositoryId { get; set; } = "";
    public string? RepositoryName { get; set; }
    public string? RepositoryUrl { get; set; }
    public long CreatedAt { get; set; }
    public long? DeletedAt { get; set; }
}

/// <summary>
/// The `workspaces` table: one git worktree per run or standalone execution (its owner), active until deleted.
/// Times are Unix ms.
/// </summary>
public static class WorkspaceStore
{
    public static Task<WorkspaceRow?> FindActiveAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<WorkspaceRow>("SELECT * FROM workspaces WHERE id = @id AND status = 'active'", new { id }, tx);

    public static Task<WorkspaceRow?> FindActiveOfOwnerAsync(IDbConnection c, IDbTransaction? tx, string ownerId) =>
        c.QuerySingleOrDefaultAsync<WorkspaceRow>("SELECT * FROM workspaces WHERE owner_id = @ownerId AND status = 'active'", new { ownerId }, tx);

    public static Task<IEnumerable<WorkspaceRow>> ListActiveAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<WorkspaceRow>("SELECT * FROM workspaces WHERE status = 'active' ORDER BY created_at, id", transaction: tx);

    public static Task<IEnumerable<string>> ActivePathsAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<string>("SELECT path FROM workspaces WHERE status = 'active'", transaction: tx);

    /// <summary>Active workspaces whose run or execution ended before <paramref name="cutoff"/>.</summary>
    public static Task<IEnumerable<WorkspaceRow>> ListEndedBeforeAsync(IDbConnection c, IDbTransaction? tx, long cutoff) =>
        c.QueryAsync<WorkspaceRow>(
            """
            SELECT w.* FROM workspaces w
            WHERE w.status = 'active' AND (
                EXISTS (SELECT 1 FROM runs r WHERE r.id = w.owner_id AND r.completed_at IS NOT NULL AND r.completed_at < @cutoff)
                OR EXISTS (SELECT 1 FROM executions e WHERE e.id = w.owner_id AND e.completed_at IS NOT NULL AND e.completed_at < @cutoff))
            """, new { cutoff }, tx);

    /// <summary>The dashboard's list: newest first, at most <paramref name="limit"/>, in a state (active, deleted) or all.</summary>
    public static Task<IEnumerable<WorkspaceRecord>> ListForPageAsync(IDbConnection c, IDbTransaction? tx, string state, int limit) =>
        c.QueryAsync<WorkspaceRecord>(
            """
            SELECT w.id, w.owner_id, r.id IS NOT NULL AS owner_is_run, w.path, w.branch, w.status, w.repository_id,
                   repo.name AS repository_name, repo.url AS repository_url, w.created_at, w.deleted_at
            FROM workspaces w
            LEFT JOIN runs r ON r.id = w.owner_id
            LEFT JOIN repositories repo ON repo.id = w.repository_id
            WHERE @state = 'all' OR w.status = @state
            ORDER BY w.created_at DESC, w.id DESC
            LIMIT @limit
            """, new { state, limit }, tx);

    /// <summary>The owner's workspace, active again at this path (on this node) if the owner had one before.</summary>
    public static Task SaveActiveAsync(IDbConnection c, IDbTransaction tx, WorkspaceRow row) =>
        c.ExecuteAsync(
            """
            INSERT INTO workspaces(id, repository_id, owner_id, path, branch, base_commit, finished_commit, status, created_at, pinned_node)
            VALUES (@Id, @RepositoryId, @OwnerId, @Path, @Branch, @BaseCommit, @FinishedCommit, @Status, @CreatedAt, @PinnedNode)
            ON CONFLICT(owner_id) DO UPDATE SET path = excluded.path, status = 'active', deleted_at = NULL, pinned_node = excluded.pinned_node
            """, row, tx);

    /// <summary>
    /// Inside an execution's finish transaction: the owner's branch now stands at this commit, so a reset a retry asked
    /// for (<see cref="ResetToAsync"/>) has been done.
    /// </summary>
    public static Task RecordFinishedAsync(IDbConnection c, IDbTransaction tx, string ownerId, string commit) =>
        c.DeferAsync("UPDATE workspaces SET finished_commit = @commit, reset_to = NULL WHERE owner_id = @ownerId AND status = 'active'", new { ownerId, commit }, tx);

    /// <summary>
    /// Inside a retry's transaction (ADR 38): the owner's next execution resets its workspace to this commit, discarding
    /// what later phases did. Also on a workspace deleted since: made again, it is reset all the same.
    /// </summary>
    public static Task ResetToAsync(IDbConnection c, IDbTransaction tx, string ownerId, string commit) =>
        c.DeferAsync("UPDATE workspaces SET reset_to = @commit WHERE owner_id = @ownerId", new { ownerId, commit }, tx);

    /// <summary>The commit a retry asked the owner's workspace to go back to, while no execution has finished on it since.</summary>
    public static Task<string?> PendingResetAsync(IDbConnection c, IDbTransaction? tx, string ownerId) =>
        c.QuerySingleOrDefaultAsync<string?>("SELECT reset_to FROM workspaces WHERE owner_id = @ownerId", new { ownerId }, tx);

    public static Task MarkDeletedAsync(IDbConnection c, IDbTransaction tx, string id, long now) =>
        c.ExecuteAsync("UPDATE workspaces SET status = 'deleted', deleted_at = @now WHERE id = @id", new { id, now }, tx);
}
