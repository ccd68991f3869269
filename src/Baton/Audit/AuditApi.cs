using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Audit;

/// <summary>GET /api/audit (admin): the audit log, newest first, by key, action or run, a page at a time.</summary>
public static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", PageAsync).WithTags("Audit").RequireAuthorization(Roles.Admin);
        return app;
    }

    /// <summary>A page of entries; <c>action</c> is a method and a route as entries show them: <c>POST /api/runs/{id}/approve</c>.</summary>
    public static async Task<Results<Ok<AuditPage>, ValidationProblem>> PageAsync(
        Database db, string? key, string? action, string? run, long? before, int? limit)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > 500)
        {
            errors["limit"] = ["limit must be from 1 to 500"];
        }
        if (before is < 1)
        {
            errors["before"] = ["before must be an entry id (a whole number from 1)"];
        }
        foreach (var (name, value) in new[] { ("key", key), ("run", run) })
        {
            if (value is { Length: 0 or > 64 })
            {
                errors[name] = [$"{name} must be 1 to 64 characters"];
            }
        }
        string? method = null, route = null;
        if (action is not null)
        {
            var parts = action.Split(' ', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length is 0 or > 16 || !parts[1].StartsWith('/') || action.Length > 600)
            {
                errors["action"] = ["action must be a method and a route, as entries show them: 'POST /api/runs/{id}/approve'"];
            }
            else
            {
                (method, route) = (parts[0].ToUpperInvariant(), parts[1]);
            }
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var size = limit ?? 50;
        var rows = await db.ReadAsync(c => AuditStore.PageAsync(c, new AuditQuery(key, method, route, run, before, size)));
        return TypedResults.Ok(new AuditPage(
            rows.Select(r => new AuditEntry(r.Id, Times.FromMs(r.At), r.KeyId, r.Actor, r.Method, r.Route, r.Path, r.RunId, r.Status, r.Address)).ToList(),
            rows.Count == size ? rows[^1].Id : null));
    }
}
