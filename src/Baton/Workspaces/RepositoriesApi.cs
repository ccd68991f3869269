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
            (await db.ReadAsync(c => RepositoryStore.ListWithCredentialsAsync(c, null))).Select(r => ToInfo(r)).ToList())));
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

    /// <summary>
    /// A URL from an operator; a local path, or a credential, only from an admin: a local path is code on the server's
    /// own disk, and a credential is the server's secret. What is refused says why without echoing a secret or
    /// telling what exists outside BATON_REPO_ROOTS.
    /// </summary>
    public static async Task<Results<Created<RepositoryInfo>, ValidationProblem, ProblemHttpResult>> CreateRepositoryAsync(
        CreateRepositoryRequest? body, ClaimsPrincipal user, GitWorkspaces workspaces, Database db, TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Name) || body.Name.Length > 200)
        {
            errors["name"] = ["name is required (at most 200 characters)"];
        }
        var branch = string.IsNullOrWhiteSpace(body?.DefaultBranch) ? "main" : body.DefaultBranch;
        if (branch.Length > 200 || branch.StartsWith('-') || branch.Contains("..", StringComparison.Ordinal))
        {
            errors["default_branch"] = ["default_branch is not a valid branch name"];
        }
        var url = body?.Url;
        var isAdmin = user.Has(Roles.Admin);
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2000 || url.StartsWith('-'))
        {
            errors["url"] = ["url is required: an https, http, ssh or git URL (or, for an admin, a local path to a git repository)"];
            url = null;
        }
        else if (RepositoryLocations.Refusal(url) is { } refusal)
        {
            errors["url"] = [refusal];
            url = null;
        }
        else if (RepositoryLocations.IsLocal(url) && !isAdmin)
        {
            // Before the path is looked at: an operator learns nothing about the server's disk.
            return Forbidden("registering a local path needs the admin role; an operator registers an https, http, ssh or git URL");
        }
        if (body?.CredentialEnv is { } credential)
        {
            if (!isAdmin)
            {
                return Forbidden("attaching a credential (credential_env) needs the admin role");
            }
            if (!RepositoryLocations.IsVariableName(credential))
            {
                errors["credential_env"] = ["credential_env is the NAME of an environment variable on the Baton server (letters, digits and _, not BATON_*), never the credential itself"];
            }
            else if (url is not null && !(url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)))
            {
                errors["credential_env"] = ["credential_env is for https and http URLs; ssh uses the server user's ssh keys"];
            }
        }
        if (errors.Count == 0 && url is not null && RepositoryLocations.IsLocal(url))
        {
            var (problem, real) = await workspaces.LocalProblemAsync(url, branch, ct);
            if (problem is not null)
            {
                errors["url"] = [problem];
            }
            url = real;
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var row = new RepositoryRow
        {
            Id = Ids.New("rep", time),
            Name = body!.Name!,
            Url = url!,
            DefaultBranch = branch,
            CreatedAt = time.GetUtcNow().ToMs(),
        };
        await db.WriteAsync((c, tx) => RepositoryStore.InsertAsync(c, tx, row, body.CredentialEnv, user.Actor()), ct);
        return TypedResults.Created($"/api/repositories/{row.Id}", ToInfo(row, body.CredentialEnv));
    }

    public static async Task<Results<Ok<RepositoryInfo>, ProblemHttpResult>> GetRepositoryAsync(string id, Database db) =>
        await db.ReadAsync(c => RepositoryStore.FindWithCredentialAsync(c, null, id)) is { } row
            ? TypedResults.Ok(ToInfo(row))
            : Problems.NotFound("repository", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteRepositoryAsync(string id, Database db)
    {
        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            if (!await RepositoryStore.ExistsAsync(c, tx, id))
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
        await db.WriteAsync((c, tx) => WorkItemStore.InsertAsync(c, tx, row));
        return TypedResults.Created($"/api/work-items/{row.Id}", ToInfo(row));
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
    public static RepositoryInfo ToInfo(RepositoryRow r, string? credentialEnv = null) =>
        new(r.Id, r.Name, RepositoryLocations.Redact(r.Url), r.DefaultBranch, Times.FromMs(r.CreatedAt), credentialEnv ?? r.CredentialEnv);

    private static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static WorkItemInfo ToInfo(WorkItemRow w) => new(w.Id, w.Title, w.Description, w.RepositoryId, Times.FromMs(w.CreatedAt));
}
