using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Agents;

/// <summary>Workers as data. Creating one means choosing what programs the server runs, so it is an admin's call.</summary>
public static class WorkersApi
{
    public static IEndpointRouteBuilder MapWorkersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/workers").WithTags("Workers").RequireAuthorization(Roles.Viewer);
        group.MapPost("/", CreateAsync).RequireAuthorization(Roles.Admin);
        group.MapGet("/", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", DeleteAsync).RequireAuthorization(Roles.Admin);
        return app;
    }

    public static async Task<Results<Created<WorkerInfo>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateWorkerRequest? body, ClaimsPrincipal user, Database db, TimeProvider time)
    {
        if (body is null)
        {
            return Problems.Invalid("body", "a JSON body is required: {\"name\": ..., \"kind\": ...}");
        }
        var (row, errors) = WorkerValidation.Validate(body, time);
        if (row is null)
        {
            return Problems.Invalid(errors);
        }
        // One statement decides: two creates of one name on two nodes give one worker and one 409.
        var created = await db.WriteAsync((c, tx) => WorkerStore.InsertAsync(c, tx, row, user.Actor()));
        return created
            ? TypedResults.Created($"/api/workers/{row.Id}", row.ToInfo())
            : Problems.Conflict($"a worker named '{row.Name}' exists");
    }

    public static async Task<Ok<WorkerList>> ListAsync(Database db) =>
        TypedResults.Ok(new WorkerList((await db.ReadAsync(c => WorkerStore.ListAsync(c, null))).Select(w => w.ToInfo()).ToList()));

    public static async Task<Results<Ok<WorkerInfo>, ProblemHttpResult>> GetAsync(string id, Database db) =>
        await db.ReadAsync(c => WorkerStore.FindAsync(c, null, id)) is { } row ? TypedResults.Ok(row.ToInfo()) : Problems.NotFound("worker", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, Database db)
    {
        var deleted = await db.WriteAsync(async (c, tx) =>
            await WorkerStore.FindAsync(c, tx, id) is { } row && await WorkerStore.DeleteAsync(c, tx, row.Id));
        return deleted ? TypedResults.NoContent() : Problems.NotFound("worker", id);
    }
}
