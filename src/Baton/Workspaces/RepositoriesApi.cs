using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Dapper;
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
            (await db.ReadAsync(c => c.QueryAsync<RepositoryRow>(RepositorySelect + " ORDER BY r.created_at, r.id"))).Select(r => ToInfo(r)).ToList())));
        repos.MapGet("/{id}", GetRepositoryAsync);
        repos.MapDelete("/{id}", DeleteRepositoryAsync).RequireAuthorization(Roles.Operator);

        var items = app.MapGroup("/api/work-items").WithTags("Work items").RequireAuthorization(Roles.Viewer);
        items.MapPost("/", CreateWorkItemAsync).RequireAuthorization(Roles.Operator);
        items.MapGet("/", async (Database db) => TypedResults.Ok(new WorkItemList(
            (await db.ReadAsync(c => c.QueryAsync<WorkItemRow>("SELECT * FROM work_items ORDER BY created_at, id"))).Select(ToInfo).ToList())));
        items.MapGet("/{id}", GetWorkItemAsync);
        items.MapDelete("/{id}", DeleteWorkItemAsync).RequireAuthorization(Roles.Operator);
        return app;
    }

    public sealed class WorkItemRow
    {
        public string Id { get; set; } = "";
        public string Title { get; set; } = "";
        public string? Description { get; set; }
        public string? RepositoryId { get; set; }
        public long CreatedAt { get; set; }
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
        await db.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(
                "INSERT INTO repositories(id, name, url, default_branch, created_at) VALUES (@Id, @Name, @Url, @DefaultBranch, @CreatedAt)", row, tx);
            if (body.CredentialEnv is { } env)
            {
                await c.ExecuteAsync(
                    "INSERT INTO repository_credentials(repository_id, env, set_by, set_at) VALUES (@Id, @env, @by, @CreatedAt)",
                    new { row.Id, env, by = user.Actor(), row.CreatedAt }, tx);
            }
        }, ct);
        return TypedResults.Created($"/api/repositories/{row.Id}", ToInfo(row, body.CredentialEnv));
    }

    public static async Task<Results<Ok<RepositoryInfo>, ProblemHttpResult>> GetRepositoryAsync(string id, Database db) =>
        await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<RepositoryRow>(RepositorySelect + " WHERE r.id = @id", new { id })) is { } row
            ? TypedResults.Ok(ToInfo(row))
            : Problems.NotFound("repository", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteRepositoryAsync(string id, Database db)
    {
        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM repositories WHERE id = @id", new { id }, tx) == 0)
            {
                return "missing";
            }
            var uses = await c.ExecuteScalarAsync<long>(
                """
                SELECT (SELECT COUNT(*) FROM workspaces WHERE repository_id = @id AND status = 'active')
                     + (SELECT COUNT(*) FROM work_items WHERE repository_id = @id)
                """, new { id }, tx) + await Runs.RunStore.CountOfRepositoryAsync(c, tx, id);
            if (uses > 0)
            {
                return "used";
            }
            await c.ExecuteAsync("DELETE FROM repository_credentials WHERE repository_id = @id", new { id }, tx);
            await c.ExecuteAsync("DELETE FROM repositories WHERE id = @id", new { id }, tx);
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
        if (body?.RepositoryId is { } repo && await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM repositories WHERE id = @repo", new { repo })) == 0)
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
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            "INSERT INTO work_items(id, title, description, repository_id, created_at) VALUES (@Id, @Title, @Description, @RepositoryId, @CreatedAt)", row, tx));
        return TypedResults.Created($"/api/work-items/{row.Id}", ToInfo(row));
    }

    public static async Task<Results<Ok<WorkItemInfo>, ProblemHttpResult>> GetWorkItemAsync(string id, Database db) =>
        await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<WorkItemRow>("SELECT * FROM work_items WHERE id = @id", new { id })) is { } row
            ? TypedResults.Ok(ToInfo(row))
            : Problems.NotFound("work item", id);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteWorkItemAsync(string id, Database db) =>
        await db.WriteAsync((c, tx) => c.ExecuteAsync("DELETE FROM work_items WHERE id = @id AND NOT EXISTS (SELECT 1 FROM executions WHERE work_item_id = @id)", new { id }, tx)) == 1
            ? TypedResults.NoContent()
            : Problems.NotFound("work item without executions", id);

    /// <summary>A repository with the name (never the value) of its credential's variable.</summary>
    private const string RepositorySelect =
        "SELECT r.*, k.env AS credential_env FROM repositories r LEFT JOIN repository_credentials k ON k.repository_id = r.id";

    /// <summary>The URL is redacted again on the way out: a row written by an older Baton must not show a secret.</summary>
    public static RepositoryInfo ToInfo(RepositoryRow r, string? credentialEnv = null) =>
        new(r.Id, r.Name, RepositoryLocations.Redact(r.Url), r.DefaultBranch, Times.FromMs(r.CreatedAt), credentialEnv ?? r.CredentialEnv);

    private static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static WorkItemInfo ToInfo(WorkItemRow w) => new(w.Id, w.Title, w.Description, w.RepositoryId, Times.FromMs(w.CreatedAt));
}
