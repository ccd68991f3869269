using Baton.Auth;
using Baton.Client;
using Baton.Profiles;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Retention;

/// <summary>POST /api/gc (admin): retention now, for finished runs older than a given age (<c>baton gc --older-than</c>).</summary>
public static class GcApi
{
    public static IEndpointRouteBuilder MapGcApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/gc", GcAsync).WithTags("Operations").RequireAuthorization(Roles.Admin);
        return app;
    }

    public static async Task<Results<Ok<GcResult>, ValidationProblem>> GcAsync(GcRequest? body, RunRetention retention, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body?.OlderThan))
        {
            return Problems.Invalid("older_than", "older_than is required: a duration such as 30d or 12h");
        }
        if (body.OlderThan.Length > 32 || !Durations.TryParse(body.OlderThan, out var olderThan) || olderThan <= TimeSpan.Zero)
        {
            return Problems.Invalid("older_than", $"older_than must be a duration from 1s to 365d, such as 30d or 12h, not '{(body.OlderThan.Length > 32 ? body.OlderThan[..32] + "…" : body.OlderThan)}'");
        }
        return TypedResults.Ok(await retention.ApplyAsync(olderThan, ct));
    }
}
