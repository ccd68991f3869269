using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Workspaces;

/// <summary>Repositories (where workspaces come from) and work items (what standalone executions work on).</summary>
public static class RepositoriesApi
{
    public static IEndpointRouteBuilder MapRepositoriesApi(this IEndpointRouteBuilder app)
    {
        var repos = app.MapGroup("/api/repositories").WithTags("Repositories").RequireAuthorization(Roles.Viewer);
        repos.MapPost("/", CreateRepositoryAsync).RequireAuthorization(Roles.Operator);
        repos.MapGet("/", async (Database db) => TypedResults.Ok(new RepositoryList(
            (await db.ReadAsync(c => RepositoryStore.ListWithCredentialsAsync(c, null))).Select(ToInfo).ToList())));
        repos.MapGet("/{id}", GetRepositoryAsync);
        repos.MapDelete("/{id}", DeleteRepositoryAsync).RequireAuthorization(Roles.Operator);

        var items = app.MapGroup("/api/work-items").WithTags("Work items").RequireAuthorization(Roles.Viewer);
        items.MapPost("/", CreateWorkItemAsync).RequireAuthorization(Roles.Operator);
        items.MapGet("/", async (Database db) => TypedResults.Ok(new WorkItemList(
            (await db.ReadAsync(c => WorkItemStore.ListAsync(c, null))).Select(ToInfo).ToList())));
        items.MapGet("/{id}", GetWorkItemAsync);
        items.MapDelete("/{id}", DeleteWorkItemAsync).RequireAuthorization(Roles.Operator);
        return app;
    }

    public static async Task<Results<Created<RepositoryInfo>, ValidationProblem, ProblemHttpResult>> CreateRepositoryAsync(
        CreateRepositoryRequest? body, ClaimsPrincipal user, GitWorkspaces workspaces, Database db, TimeProvider time, CancellationToken ct) =>
        await RepositoryRegistration.RegisterAsync(body, user, workspaces, db, time, ct) switch
        {
            RepositoryRegistration.Registered { Repository: var row } => TypedResults.Created($"/api/repositories/{row.Id}", ToInfo(row)),
            RepositoryRegistration.Invalid { Errors: var errors } => Problems.Invalid(errors),
            RepositoryRegistration.Refused { Detail: var detail } =>
                TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail),
            var other => throw new InvalidOperationException($"unexpected registration {other}"),
        };

    public static async Task<Results<Ok<RepositoryInfo>, ProblemHttpResult>> GetRepositoryAsync(string id, Database db) =>
        await db.ReadAsync(c => RepositoryStore.FindWithCredentialAsync(c, null, id)) is { } row
            ? TypedResults.Ok(ToInfo(row))
            : Problems.NotFound("repository", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteRepositoryAsync(string id, Database db)
    {
        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            if (!await RepositoryStore.LockAsync(c, tx, id))
            {
                return "missing";
            }
            if (await RepositoryStore.CountUsesAsync(c, tx, id) > 0)
            {
                return "used";
            }
            await RepositoryStore.DeleteAsync(c, tx, id);
            return "ok";
        });
        return outcome switch
        {
            "missing" => Problems.NotFound("repository", id),
            "used" => Problems.Conflict($"repository '{id}' is used by runs, work items or workspaces"),
            _ => TypedResults.NoContent(),
        };
    }

    public static async Task<Results<Created<WorkItemInfo>, ValidationProblem>> CreateWorkItemAsync(CreateWorkItemRequest? body, Database db, TimeProvider time)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Title) || body.Title.Length > 500)
        {
            errors["title"] = ["title is required (at most 500 characters)"];
        }
        if (body?.Description is { Length: > 1024 * 1024 })
        {
            errors["description"] = ["description is longer than 1 MiB"];
        }
        if (body?.RepositoryId is { } repo && !await db.ReadAsync(c => RepositoryStore.ExistsAsync(c, null, repo)))
        {
            errors["repository_id"] = [$"no repository '{repo}'"];
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var row = new WorkItemRow
        {
            Id = Ids.New("wki", time),
            Title = body!.Title!,
            Description = body.Description,
            RepositoryId = body.RepositoryId,
            CreatedAt = time.GetUtcNow().ToMs(),
        };
        var inserted = await db.WriteAsync(async (c, tx) =>
        {
            // Again in the transaction, which keeps the repository until it commits: it may have been deleted since.
            if (row.RepositoryId is not null && !await RepositoryStore.ExistsAsync(c, tx, row.RepositoryId))
            {
                return false;
            }
            await WorkItemStore.InsertAsync(c, tx, row);
            return true;
        });
        return inserted
            ? TypedResults.Created($"/api/work-items/{row.Id}", ToInfo(row))
            : Problems.Invalid(new Dictionary<string, string[]> { ["repository_id"] = [$"no repository '{row.RepositoryId}'"] });
    }

    public static async Task<Results<Ok<WorkItemInfo>, ProblemHttpResult>> GetWorkItemAsync(string id, Database db) =>
        await db.ReadAsync(c => WorkItemStore.FindAsync(c, null, id)) is { } row
            ? TypedResults.Ok(ToInfo(row))
            : Problems.NotFound("work item", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteWorkItemAsync(string id, Database db) =>
        await db.WriteAsync((c, tx) => WorkItemStore.DeleteUnusedAsync(c, tx, id))
            ? TypedResults.NoContent()
            : Problems.NotFound("work item without executions", id);

    /// <summary>The URL is redacted again on the way out: a row written by an older Baton must not show a secret.</summary>
    public static RepositoryInfo ToInfo(RepositoryRow r) =>
        new(r.Id, r.Name, RepositoryLocations.Redact(r.Url), r.DefaultBranch, Times.FromMs(r.CreatedAt), r.CredentialEnv);

    public static WorkItemInfo ToInfo(WorkItemRow w) => new(w.Id, w.Title, w.Description, w.RepositoryId, Times.FromMs(w.CreatedAt));
}
