using System.Data;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Baton.Storage;
using Dapper;

namespace Baton.Auth;

public static class Roles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Approver = "approver";
    public const string Admin = "admin";

    /// <summary>Each role includes the ones before it.</summary>
    public static readonly string[] Ordered = [Viewer, Operator, Approver, Admin];

    public static int Rank(string role) => Array.IndexOf(Ordered, role);

    public static string Actor(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";

    public static bool Has(this ClaimsPrincipal user, string role) =>
        Rank(user.FindFirstValue(ClaimTypes.Role) ?? "") >= Rank(role);
}

public sealed class ApiKeyRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Role { get; set; } = "";
    public string? CreatedBy { get; set; }
    public long CreatedAt { get; set; }
    public long? ExpiresAt { get; set; }
    public long? RevokedAt { get; set; }
}

/// <summary>API keys: random tokens shown once; only their SHA-256 is stored (they are long and random, so a slow hash adds nothing).</summary>
public static class ApiKeys
{
    public const string TokenPrefix = "bat_";

    public static string NewToken() => TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static Task<ApiKeyRow?> FindActiveAsync(IDbConnection c, string token, DateTimeOffset now) =>
        c.QuerySingleOrDefaultAsync<ApiKeyRow>(
            "SELECT * FROM api_keys WHERE token_hash = @hash AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)",
            new { hash = Hash(token), now = now.ToMs() });

    public static async Task<bool> IsActiveAsync(IDbConnection c, string keyId, DateTimeOffset now) =>
        await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM api_keys WHERE id = @keyId AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)",
            new { keyId, now = now.ToMs() }) == 1;

    /// <summary>
    /// Makes sure a key with this token exists with this role (the bootstrap admin and `baton up`'s local key), and
    /// returns null; or, when the token's key was revoked, changes nothing and returns that key. A revoked key never
    /// comes back: revoking a leaked bootstrap token must survive the next restart.
    /// </summary>
    /// <remarks>A changed token replaces the old one: the key it replaces is revoked, so rotating a leaked token works.</remarks>
    public static Task<ApiKeyRow?> EnsureAsync(Database db, string name, string token, string role, TimeProvider time) =>
        db.WriteAsync(async (c, tx) =>
        {
            var args = new { id = Ids.New("key", time), name, role, hash = Hash(token), now = time.GetUtcNow().ToMs() };
            var revoked = await c.QuerySingleOrDefaultAsync<ApiKeyRow>(
                "SELECT * FROM api_keys WHERE token_hash = @hash AND revoked_at IS NOT NULL", args, tx);
            if (revoked is not null)
            {
                return revoked;
            }
            await c.ExecuteAsync(
                """
                UPDATE api_keys SET revoked_at = @now
                WHERE name = @name AND created_by = 'system' AND token_hash <> @hash AND revoked_at IS NULL;
                INSERT INTO api_keys(id, name, role, token_hash, created_by, created_at)
                VALUES (@id, @name, @role, @hash, 'system', @now)
                ON CONFLICT(token_hash) DO UPDATE SET role = excluded.role;
                """,
                args, tx);
            return null;
        });

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
