using System.Security.Claims;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;
using Dapper;
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
        CreateKeyRequest? body, ClaimsPrincipal user, Database db, TimeProvider time)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Name))
        {
            errors["name"] = ["name is required: who or what will use the key"];
        }
        else if (body.Name.Length > 100)
        {
            errors["name"] = ["name is longer than 100 characters"];
        }
        if (string.IsNullOrWhiteSpace(body?.Role))
        {
            errors["role"] = [$"role is required: one of {string.Join(", ", Roles.Ordered)}"];
        }
        else if (Roles.Rank(body.Role) < 0)
        {
            errors["role"] = [$"unknown role '{body.Role}'; one of {string.Join(", ", Roles.Ordered)}"];
        }
        var now = time.GetUtcNow();
        if (body?.ExpiresAt is { } expires && expires <= now)
        {
            errors["expires_at"] = ["expires_at must be in the future"];
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var token = ApiKeys.NewToken();
        var id = Ids.New("key", time);
        var created = await db.WriteAsync(async (c, tx) =>
        {
            var taken = await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM api_keys WHERE name = @name AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)",
                new { name = body!.Name, now = now.ToMs() }, tx);
            if (taken > 0)
            {
                return false;
            }
            await c.ExecuteAsync(
                "INSERT INTO api_keys(id, name, role, token_hash, created_by, created_at, expires_at) VALUES (@id, @name, @role, @hash, @by, @now, @expires)",
                new { id, name = body!.Name, role = body.Role, hash = ApiKeys.Hash(token), by = user.Actor(), now = now.ToMs(), expires = body.ExpiresAt?.ToMs() }, tx);
            return true;
        });
        if (!created)
        {
            return Problems.Conflict($"an active key named '{body!.Name}' exists; names identify who approved what, so they are unique");
        }
        return TypedResults.Created($"/api/keys/{id}", new CreatedKey(id, body!.Name!, body.Role!, token, now, body.ExpiresAt));
    }

    public static async Task<Ok<KeyList>> ListAsync(Database db)
    {
        var rows = await db.ReadAsync(c => c.QueryAsync<ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at, id"));
        return TypedResults.Ok(new KeyList(rows.Select(k => new KeyInfo(
            k.Id, k.Name, k.Role, k.CreatedBy, Times.FromMs(k.CreatedAt), Times.FromMs(k.ExpiresAt), Times.FromMs(k.RevokedAt))).ToList()));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(string id, Database db, TimeProvider time, OpenStreams streams)
    {
        var state = await db.WriteAsync(async (c, tx) =>
        {
            var revokedAt = await c.QuerySingleOrDefaultAsync<(string Id, long? RevokedAt)?>("SELECT id, revoked_at FROM api_keys WHERE id = @id", new { id }, tx);
            if (revokedAt is null)
            {
                return "missing";
            }
            if (revokedAt.Value.RevokedAt is not null)
            {
                return "revoked";
            }
            await c.ExecuteAsync("UPDATE api_keys SET revoked_at = @now WHERE id = @id", new { id, now = time.GetUtcNow().ToMs() }, tx);
            return "ok";
        });
        if (state == "ok")
        {
            // After the commit, so a stream that ends cannot reopen with a key that is still active.
            streams.EndStreamsOf(id);
        }
        return state switch
        {
            "missing" => Problems.NotFound("key", id),
            "revoked" => Problems.Conflict($"key '{id}' is already revoked", "revoked"),
            _ => TypedResults.NoContent(),
        };
    }
}
