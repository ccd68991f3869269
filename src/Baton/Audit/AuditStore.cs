using System.Data;
using Dapper;

namespace Baton.Audit;

public sealed class AuditRow
{
    public long Id { get; set; }
    public long At { get; set; }
    public string? KeyId { get; set; }
    public string Actor { get; set; } = "";
    public string Method { get; set; } = "";
    public string Route { get; set; } = "";
    public string Path { get; set; } = "";
    public string? RunId { get; set; }
    public int Status { get; set; }
    public string? Address { get; set; }
}

/// <summary>What an audit page is filtered by: a key, an action (<c>METHOD route</c>), a run; entries before an id.</summary>
public sealed record AuditQuery(string? KeyId, string? Method, string? Route, string? RunId, long? Before, int Limit);

/// <summary>The <c>audit_log</c> table: appended to, read, never changed (its triggers refuse it). Times are Unix ms.</summary>
public static class AuditStore
{
    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, AuditRow row) =>
        c.ExecuteAsync(
            """
            INSERT INTO audit_log(at, key_id, actor, method, route, path, run_id, status, address)
            VALUES (@At, @KeyId, @Actor, @Method, @Route, @Path, @RunId, @Status, @Address)
            """, row, tx);

    /// <summary>Up to <see cref="AuditQuery.Limit"/> entries, newest first.</summary>
    public static async Task<IReadOnlyList<AuditRow>> PageAsync(IDbConnection c, AuditQuery q) =>
        (await c.QueryAsync<AuditRow>(
            $"""
            SELECT * FROM audit_log
            WHERE 1 = 1
              {(q.KeyId is null ? "" : "AND key_id = @KeyId")}
              {(q.Method is null ? "" : "AND method = @Method AND route = @Route")}
              {(q.RunId is null ? "" : "AND run_id = @RunId")}
              {(q.Before is null ? "" : "AND id < @Before")}
            ORDER BY id DESC LIMIT @Limit
            """, q)).AsList();
}
