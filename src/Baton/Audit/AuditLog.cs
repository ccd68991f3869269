using System.Security.Claims;
using Baton.Storage;

namespace Baton.Audit;

/// <summary>
/// Records every write request (any method but GET, HEAD and OPTIONS) once it has its answer: refused ones too (401,
/// 403, 409, 413, 429 …), since an attempt is what an audit looks for. Written after the response, in a transaction
/// apart from the change (shared with other requests' entries, <see cref="AuditWriter"/>): a node that dies in between
/// loses those entries, never the change they report.
/// </summary>
public sealed class AuditLog(RequestDelegate next, AuditWriter writer, Database db, TimeProvider time, ILogger<AuditLog> logger)
{
    /// <summary>Paths longer than this are cut (the route names the endpoint; the path only adds its ids).</summary>
    public const int MaxPathLength = 512;

    /// <summary>
    /// The <see cref="Auth.ApiKeyRow"/> of a revoked or expired key a request was refused with, which the entry names
    /// (in <see cref="HttpContext.Items"/>, set by the API key handler).
    /// </summary>
    public const string RefusedKeyItem = "baton.audit.refused-key";

    public async Task InvokeAsync(HttpContext context)
    {
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) || HttpMethods.IsOptions(context.Request.Method))
        {
            await next(context);
            return;
        }
        var threw = false;
        try
        {
            await next(context);
        }
        catch
        {
            // The exception handler before this answers 500.
            threw = true;
            throw;
        }
        finally
        {
            if (!threw)
            {
                // The client has its whole answer before the entry's commit, not after: a JSON answer is sent chunked,
                // and its last chunk would otherwise wait for this write (about 2 ms of a 6 ms create on SQLite).
                await CompleteAnswerAsync(context);
            }
            await RecordAsync(context, threw ? StatusCodes.Status500InternalServerError : context.Response.StatusCode);
        }
    }

    private static async Task CompleteAnswerAsync(HttpContext context)
    {
        try
        {
            await context.Response.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away: its attempt is recorded all the same.
        }
    }

    private async Task RecordAsync(HttpContext context, int status)
    {
        // A group's "/" route is the group's own path: "/api/runs/" is recorded (and filtered) as "/api/runs".
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } raw ? (raw.Length > 1 ? raw.TrimEnd('/') : raw) : "unmatched";
        var path = context.Request.Path.Value ?? "";
        var refusedKey = context.Items.TryGetValue(RefusedKeyItem, out var item) ? item as Auth.ApiKeyRow : null;
        var row = new AuditRow
        {
            At = time.GetUtcNow().ToMs(),
            KeyId = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? refusedKey?.Id,
            Actor = context.User.Identity?.Name ?? refusedKey?.Name ?? "anonymous",
            Method = context.Request.Method.Length > 16 ? context.Request.Method[..16] : context.Request.Method,
            Route = route,
            Path = path.Length > MaxPathLength ? path[..MaxPathLength] : path,
            RunId = RunOf(route, context.Request.RouteValues),
            Status = status,
            Address = context.Connection.RemoteIpAddress?.ToString(),
        };
        try
        {
            await writer.AppendAsync(row);
        }
        catch (Exception ex) when (db.Dialect.IsDatabaseError(ex))
        {
            logger.LogError(ex, "Could not record {Method} {Path} ({Status}) by {Actor} in the audit log", row.Method, row.Path, row.Status, row.Actor);
        }
    }

    /// <summary>The run a request is about: the <c>{id}</c> of a run's route (API or dashboard page), else none.</summary>
    private static string? RunOf(string route, RouteValueDictionary values) =>
        (route.StartsWith("/api/runs/{id}", StringComparison.Ordinal) || route.StartsWith("/runs/{id}", StringComparison.Ordinal))
            && values.TryGetValue("id", out var id) && id is string runId && runId.Length <= 64
            ? runId
            : null;
}
