using System.Data;
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

    /// <summary>Read with the repository (a join): the name of the server variable holding its credential.</summary>
    public string? CredentialEnv { get; set; }
}

/// <summary>
/// The `repositories` table (where workspaces come from) and `repository_credentials`, the name (never the value)
/// of the server variable holding a repository's credential.
/// </summary>
public static class RepositoryStore
{
    /// <summary>A repository with the name of its credential's variable.</summary>
    private const string WithCredential =
        "SELECT r.*, k.env AS credential_env FROM repositories r LEFT JOIN repository_credentials k ON k.repository_id = r.id";

    /// <summary>The repository alone (<see cref="RepositoryRow.CredentialEnv"/> stays null).</summary>
    public static Task<RepositoryRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<RepositoryRow>("SELECT * FROM repositories WHERE id = @id", new { id }, tx);

    public static Task<RepositoryRow?> FindWithCredentialAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<RepositoryRow>(WithCredential + " WHERE r.id = @id", new { id }, tx);

    public static Task<IEnumerable<RepositoryRow>> ListWithCredentialsAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<RepositoryRow>(WithCredential + " ORDER BY r.created_at, r.id", transaction: tx);

    /// <summary>
    /// Whether the repository exists. In a transaction that goes on to refer to it, it then stays until that commits:
    /// the row is key-share locked on PostgreSQL, so a delete waits and then sees the reference (rather than the
    /// insert failing on its foreign key).
    /// </summary>
    public static async Task<bool> ExistsAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        await c.ExecuteScalarAsync<int?>(
            $"SELECT 1 FROM repositories WHERE id = @id{(tx is null || SqlDialect.Of(c).SingleWriter ? "" : " FOR KEY SHARE")}", new { id }, tx) is not null;

    /// <summary>
    /// Locks the repository for a delete (false when there is none): a transaction that refers to it (see
    /// <see cref="ExistsAsync"/>) finishes first, so the uses counted next are all there are.
    /// </summary>
    public static async Task<bool> LockAsync(IDbConnection c, IDbTransaction tx, string id) =>
        await c.ExecuteScalarAsync<int?>($"SELECT 1 FROM repositories WHERE id = @id{SqlDialect.Of(c).ForUpdate}", new { id }, tx) is not null;

    /// <summary>The name of the server variable holding the repository's credential, or null when it has none.</summary>
    public static Task<string?> CredentialEnvAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<string?>("SELECT env FROM repository_credentials WHERE repository_id = @id", new { id }, tx);

    /// <summary>The repository, and its credential's variable when it has one (set by <paramref name="setBy"/>).</summary>
    public static async Task InsertAsync(IDbConnection c, IDbTransaction tx, RepositoryRow row, string? credentialEnv, string setBy)
    {
        await c.ExecuteAsync(
            "INSERT INTO repositories(id, name, url, default_branch, created_at) VALUES (@Id, @Name, @Url, @DefaultBranch, @CreatedAt)", row, tx);
        if (credentialEnv is not null)
        {
            await c.ExecuteAsync(
                "INSERT INTO repository_credentials(repository_id, env, set_by, set_at) VALUES (@Id, @credentialEnv, @setBy, @CreatedAt)",
                new { row.Id, credentialEnv, setBy, row.CreatedAt }, tx);
        }
    }

    /// <summary>What still refers to the repository: active workspaces, work items and runs (one statement).</summary>
    public static Task<long> CountUsesAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.ExecuteScalarAsync<long>(
            """
            SELECT (SELECT COUNT(*) FROM workspaces WHERE repository_id = @id AND status = 'active')
                 + (SELECT COUNT(*) FROM work_items WHERE repository_id = @id)
                 + (SELECT COUNT(*) FROM runs WHERE repository_id = @id)
            """, new { id }, tx);

    public static async Task DeleteAsync(IDbConnection c, IDbTransaction tx, string id)
    {
        await c.ExecuteAsync("DELETE FROM repository_credentials WHERE repository_id = @id", new { id }, tx);
        await c.ExecuteAsync("DELETE FROM repositories WHERE id = @id", new { id }, tx);
    }
}
