using System.Data;
using Dapper;

namespace Baton.Dashboard;

/// <summary>
/// The `signin_links` table: a one-time link's code hash (never the code), its key, and when it expires and was
/// used. Times are Unix ms. The key a usable link signs in as is read by <see cref="Auth.ApiKeyStore.FindBySignInLinkAsync"/>.
/// </summary>
public static class SignInLinkStore
{
    public static Task InsertAsync(IDbConnection c, IDbTransaction tx, string codeHash, string keyId, long now, long expiresAt) =>
        c.ExecuteAsync(
            "INSERT INTO signin_links(code_hash, key_id, created_at, expires_at) VALUES (@codeHash, @keyId, @now, @expiresAt)",
            new { codeHash, keyId, now, expiresAt }, tx);

    public static Task MarkUsedAsync(IDbConnection c, IDbTransaction tx, string codeHash, long now) =>
        c.ExecuteAsync("UPDATE signin_links SET used_at = @now WHERE code_hash = @codeHash", new { codeHash, now }, tx);
}
