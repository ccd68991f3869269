using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Auth;

public sealed class ApiKeyRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Role { get; set; } = "";
    public string? CreatedBy { get; set; }
    public long CreatedAt { get; set; }
    public long? ExpiresAt { get; set; }
    public long? RevokedAt { get; set; }

    /// <summary>The groups the key belongs to, a JSON array of names (null: none), which a gate's approvers may name.</summary>
    public string? Groups { get; set; }

    public IReadOnlyList<string> GroupList => Groups is null ? [] : System.Text.Json.JsonSerializer.Deserialize<List<string>>(Groups) ?? [];
}

/// <summary>
/// The `api_keys` table (only a token's SHA-256 is stored) and `key_usage`, what each key has stored, counted
/// against its quota. The dashboard's sessions and sign-in links name a key; the reads that return the key behind
/// one are here, since they return key rows. Times are Unix ms.
/// </summary>
public static class ApiKeyStore
{
    /// <summary>A key counts from creation until it is revoked or reaches its expiry.</summary>
    private const string Active = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)";

    public static Task<ApiKeyRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>("SELECT * FROM api_keys WHERE id = @id", new { id }, tx);

    public static Task<ApiKeyRow?> FindActiveByHashAsync(IDbConnection c, IDbTransaction? tx, string tokenHash, long now) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>($"SELECT * FROM api_keys WHERE token_hash = @tokenHash AND {Active}", new { tokenHash, now }, tx);

    /// <summary>The key with this token, whatever its state: a refused request is audited with the revoked or expired key it came with.</summary>
    public static Task<ApiKeyRow?> FindByHashAsync(IDbConnection c, IDbTransaction? tx, string tokenHash) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>("SELECT * FROM api_keys WHERE token_hash = @tokenHash", new { tokenHash }, tx);

    public static Task<ApiKeyRow?> FindRevokedByHashAsync(IDbConnection c, IDbTransaction? tx, string tokenHash) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>("SELECT * FROM api_keys WHERE token_hash = @tokenHash AND revoked_at IS NOT NULL", new { tokenHash }, tx);

    public static async Task<bool> IsActiveAsync(IDbConnection c, IDbTransaction? tx, string id, long now) =>
        await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM api_keys WHERE id = @id AND {Active}", new { id, now }, tx) == 1;

    /// <summary>
    /// Makes creates of keys named <paramref name="name"/> take turns until the transaction ends, so that the one
    /// that comes second sees the first's key (<see cref="IsNameTakenAsync"/>). A row lock cannot do it: before the
    /// first key there is no row, and a unique index cannot say "active" (expiry depends on the time). SQLite's one
    /// writer takes turns already.
    /// </summary>
    public static async Task LockNameAsync(IDbConnection c, IDbTransaction tx, string name)
    {
        if (!SqlDialect.Of(c).SingleWriter)
        {
            await c.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtext(@lock))", new { @lock = "baton.key-name:" + name }, tx);
        }
    }

    /// <summary>Names identify who approved what, so two active keys never share one.</summary>
    public static async Task<bool> IsNameTakenAsync(IDbConnection c, IDbTransaction? tx, string name, long now) =>
        await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM api_keys WHERE name = @name AND {Active}", new { name, now }, tx) > 0;

    /// <summary>The key's expiry (null when it has none or does not exist).</summary>
    public static Task<long?> ExpiresAtAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.ExecuteScalarAsync<long?>("SELECT expires_at FROM api_keys WHERE id = @id", new { id }, tx);

    public static Task<IEnumerable<ApiKeyRow>> ListAsync(IDbConnection c, IDbTransaction? tx, bool newestFirst) =>
        c.QueryAsync<ApiKeyRow>(newestFirst ? "SELECT * FROM api_keys ORDER BY created_at DESC, id DESC" : "SELECT * FROM api_keys ORDER BY created_at, id", transaction: tx);

    public static Task InsertAsync(IDbConnection c, IDbTransaction tx, ApiKeyRow key, string tokenHash) =>
        c.ExecuteAsync(
            "INSERT INTO api_keys(id, name, role, token_hash, created_by, created_at, expires_at, groups) VALUES (@Id, @Name, @Role, @tokenHash, @CreatedBy, @CreatedAt, @ExpiresAt, @Groups)",
            new { key.Id, key.Name, key.Role, tokenHash, key.CreatedBy, key.CreatedAt, key.ExpiresAt, key.Groups }, tx);

    /// <summary>Revokes the key; false when it was revoked already (by a request that got there first, say).</summary>
    public static async Task<bool> RevokeAsync(IDbConnection c, IDbTransaction tx, string id, long now) =>
        await c.ExecuteAsync("UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL", new { id, now }, tx) == 1;

    /// <summary>
    /// A key the system holds (created_by 'system') with this token and role: a changed token revokes the system key
    /// of that name it replaces, and a known token gets the role.
    /// </summary>
    public static Task EnsureSystemKeyAsync(IDbConnection c, IDbTransaction tx, string id, string name, string role, string tokenHash, long now) =>
        c.ExecuteAsync(
            """
            UPDATE api_keys SET revoked_at = @now
            WHERE name = @name AND created_by = 'system' AND token_hash <> @tokenHash AND revoked_at IS NULL;
            INSERT INTO api_keys(id, name, role, token_hash, created_by, created_at)
            VALUES (@id, @name, @role, @tokenHash, 'system', @now)
            ON CONFLICT(token_hash) DO UPDATE SET role = excluded.role;
            """,
            new { id, name, role, tokenHash, now }, tx);

    /// <summary>The active key of a live dashboard session (signed in after <paramref name="oldest"/>), or null.</summary>
    public static Task<ApiKeyRow?> FindBySessionAsync(IDbConnection c, IDbTransaction? tx, string sessionId, string keyId, long now, long oldest) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>(
            """
            SELECT k.* FROM dashboard_sessions s JOIN api_keys k ON k.id = s.key_id
            WHERE s.id = @sessionId AND s.key_id = @keyId AND s.created_at > @oldest
              AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > @now)
            """,
            new { sessionId, keyId, now, oldest }, tx);

    /// <summary>
    /// The active key of an unused, unexpired sign-in link, or null. In a transaction (which spends the link) the link
    /// is locked: a second redeemer waits, then finds it used.
    /// </summary>
    public static Task<ApiKeyRow?> FindBySignInLinkAsync(IDbConnection c, IDbTransaction? tx, string codeHash, long now) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>(
            $"""
            SELECT k.* FROM signin_links l JOIN api_keys k ON k.id = l.key_id
            WHERE l.code_hash = @codeHash AND l.used_at IS NULL AND l.expires_at > @now
              AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > @now)
            {(tx is null || SqlDialect.Of(c).SingleWriter ? "" : "FOR UPDATE OF l")}
            """,
            new { codeHash, now }, tx);

    /// <summary>
    /// The intake bytes the key's runs have stored (0 before its first run), with the key's usage row locked until the
    /// transaction ends: creates of one key then check and count their quotas one after the other, also on several
    /// nodes (under read committed, two reads alone would each see room). The upsert is what locks a row that did not
    /// exist yet; it changes nothing.
    /// </summary>
    public static Task<long> LockUsageAsync(IDbConnection c, IDbTransaction tx, string keyId) =>
        c.ExecuteScalarAsync<long>(
            "INSERT INTO key_usage(key_id, stored_bytes) VALUES (@keyId, 0) ON CONFLICT(key_id) DO UPDATE SET stored_bytes = key_usage.stored_bytes RETURNING stored_bytes",
            new { keyId }, tx);

    public static Task AddStoredBytesAsync(IDbConnection c, IDbTransaction tx, string keyId, long bytes) =>
        c.DeferAsync(
            "INSERT INTO key_usage(key_id, stored_bytes) VALUES (@keyId, @bytes) ON CONFLICT(key_id) DO UPDATE SET stored_bytes = key_usage.stored_bytes + @bytes",
            new { keyId, bytes }, tx);
}
