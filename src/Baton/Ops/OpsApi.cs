using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Ops;

public static class OpsApi
{
    public static IEndpointRouteBuilder MapOpsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (TimeProvider time) => TypedResults.Ok(new Health("ok", time.GetUtcNow()))).WithTags("Operations").AllowAnonymous();
        app.MapGet("/readyz", ReadyAsync).WithTags("Operations").AllowAnonymous();
        app.MapBatonMetrics();
        return app;
    }

    /// <remarks>The sandbox mode is reported, not judged: a node without bubblewrap still serves everything but command workers.</remarks>
    public static async Task<Results<Ok<Readiness>, JsonHttpResult<Readiness>>> ReadyAsync(Database db, Agents.Sandbox sandbox, TimeProvider time, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var ok = await db.IsReachableAsync(timeout.Token);
        var (mode, _) = await sandbox.StatusAsync();
        var body = new Readiness(ok ? "ok" : "unavailable", ok ? "ok" : "unreachable", time.GetUtcNow(), mode);
        return ok ? TypedResults.Ok(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
