using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Workspaces;

public sealed class WorkItemRow
{
    public string Id { get; set; } = "";
    public string Title { get; set; } = "";
    public string? Description { get; set; }
    public string? RepositoryId { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>The `work_items` table: what standalone executions work on, and the repository they work in.</summary>
public static class WorkItemStore
{
    public static Task<WorkItemRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<WorkItemRow>("SELECT * FROM work_items WHERE id = @id", new { id }, tx);

    public static Task<IEnumerable<WorkItemRow>> ListAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<WorkItemRow>("SELECT * FROM work_items ORDER BY created_at, id", transaction: tx);

    /// <summary>
    /// Whether the work item exists. In a transaction that goes on to refer to it (an execution), it then stays until
    /// that commits: the row is key-share locked on PostgreSQL, so a delete waits and then sees the execution.
    /// </summary>
    public static async Task<bool> ExistsAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        await c.ExecuteScalarAsync<int?>(
            $"SELECT 1 FROM work_items WHERE id = @id{(tx is null || SqlDialect.Of(c).SingleWriter ? "" : " FOR KEY SHARE")}", new { id }, tx) is not null;

    /// <summary>The work item's repository, or null when it has none (or the item is gone).</summary>
    public static Task<string?> RepositoryIdOfAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.ExecuteScalarAsync<string?>("SELECT repository_id FROM work_items WHERE id = @id", new { id }, tx);

    public static Task InsertAsync(IDbConnection c, IDbTransaction tx, WorkItemRow row) =>
        c.ExecuteAsync(
            "INSERT INTO work_items(id, title, description, repository_id, created_at) VALUES (@Id, @Title, @Description, @RepositoryId, @CreatedAt)", row, tx);

    /// <summary>Deletes the work item unless an execution names it; false when there was none to delete.</summary>
    /// <remarks>
    /// The row is locked first: an execution being created for it commits before the delete looks for executions
    /// (under read committed the delete's own look would miss it, and then fail on the foreign key).
    /// </remarks>
    public static async Task<bool> DeleteUnusedAsync(IDbConnection c, IDbTransaction tx, string id)
    {
        await c.ExecuteScalarAsync<int?>($"SELECT 1 FROM work_items WHERE id = @id{SqlDialect.Of(c).ForUpdate}", new { id }, tx);
        return await c.ExecuteAsync("DELETE FROM work_items WHERE id = @id AND NOT EXISTS (SELECT 1 FROM executions WHERE work_item_id = @id)", new { id }, tx) == 1;
    }
}
