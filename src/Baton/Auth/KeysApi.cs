using System.Security.Claims;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Auth;

public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/keys").WithTags("Keys").RequireAuthorization(Roles.Admin);
        group.MapPost("/", CreateAsync);
        group.MapGet("/", ListAsync);
        group.MapDelete("/{id}", RevokeAsync);
        return app;
    }

    public static async Task<Results<Created<CreatedKey>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateKeyRequest? body, ClaimsPrincipal user, Database db, TimeProvider time) =>
        await ApiKeys.CreateAsync(db, body, user.Actor(), time) switch
        {
            KeyCreation.Created { Key: var key } => TypedResults.Created($"/api/keys/{key.KeyId}", key),
            KeyCreation.Invalid { Errors: var errors } => Problems.Invalid(errors),
            KeyCreation.NameTaken { Detail: var detail } => Problems.Conflict(detail),
            var other => throw new InvalidOperationException($"unexpected key creation {other}"),
        };

    public static async Task<Ok<KeyList>> ListAsync(Database db)
    {
        var rows = await db.ReadAsync(c => ApiKeyStore.ListAsync(c, null, newestFirst: false));
        return TypedResults.Ok(new KeyList(rows.Select(k => new KeyInfo(
            k.Id, k.Name, k.Role, k.CreatedBy, Times.FromMs(k.CreatedAt), Times.FromMs(k.ExpiresAt), Times.FromMs(k.RevokedAt), k.GroupList)).ToList()));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(string id, Database db, TimeProvider time, OpenStreams streams) =>
        await ApiKeys.RevokeAsync(db, id, time, streams) switch
        {
            KeyRevocation.NotFound => Problems.NotFound("key", id),
            KeyRevocation.AlreadyRevoked => Problems.Conflict($"key '{id}' is already revoked", "revoked"),
            _ => TypedResults.NoContent(),
        };
}
