using System.Data;
using Dapper;

namespace Baton.Dashboard;

/// <summary>
/// The `dashboard_sessions` table: one row per signed-in browser, named in its cookie, so signing out (or revoking
/// the key) ends a copied cookie too. Times are Unix ms. The key behind a session is read by
/// <see cref="Auth.ApiKeyStore.FindBySessionAsync"/>.
/// </summary>
public static class DashboardSessionStore
{
    /// <summary>
    /// A new session. Sessions signed in at or before <paramref name="oldest"/> and those of revoked and expired keys
    /// go on the way, since they can never be used again.
    /// </summary>
    public static Task StartAsync(IDbConnection c, IDbTransaction tx, string sessionId, string keyId, long now, long oldest) =>
        c.ExecuteAsync(
            """
            DELETE FROM dashboard_sessions WHERE created_at <= @oldest OR key_id IN
                (SELECT id FROM api_keys WHERE revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= @now));
            INSERT INTO dashboard_sessions(id, key_id, created_at) VALUES (@sessionId, @keyId, @now);
            """,
            new { sessionId, keyId, now, oldest }, tx);

    /// <summary>When the session signed in, or null when it has ended.</summary>
    public static Task<long?> SignedInAtAsync(IDbConnection c, IDbTransaction? tx, string sessionId) =>
        c.ExecuteScalarAsync<long?>("SELECT created_at FROM dashboard_sessions WHERE id = @sessionId", new { sessionId }, tx);

    public static Task EndAsync(IDbConnection c, IDbTransaction tx, string sessionId) =>
        c.ExecuteAsync("DELETE FROM dashboard_sessions WHERE id = @sessionId", new { sessionId }, tx);
}
