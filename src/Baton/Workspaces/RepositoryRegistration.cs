using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;

namespace Baton.Workspaces;

/// <summary>
/// A URL from an operator; a local path, or a credential, only from an admin: a local path is code on the server's
/// own disk, and a credential is the server's secret. What is refused says why without echoing a secret or
/// telling what exists outside BATON_REPO_ROOTS.
/// </summary>
public abstract record RepositoryRegistration
{
    private RepositoryRegistration()
    {
    }

    public sealed record Registered(RepositoryRow Repository) : RepositoryRegistration;

    public sealed record Invalid(Dictionary<string, string[]> Errors) : RepositoryRegistration;

    /// <summary>The caller's role may not register this (a local path, a credential).</summary>
    public sealed record Refused(string Detail) : RepositoryRegistration;

    /// <summary>Checks the request against the caller's role and the server's roots, then stores the repository.</summary>
    public static async Task<RepositoryRegistration> RegisterAsync(
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
            return new Refused("registering a local path needs the admin role; an operator registers an https, http, ssh or git URL");
        }
        if (body?.CredentialEnv is { } credential)
        {
            if (!isAdmin)
            {
                return new Refused("attaching a credential (credential_env) needs the admin role");
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
            return new Invalid(errors);
        }
        var row = new RepositoryRow
        {
            Id = Ids.New("rep", time),
            Name = body!.Name!,
            Url = url!,
            DefaultBranch = branch,
            CreatedAt = time.GetUtcNow().ToMs(),
            CredentialEnv = body.CredentialEnv,
        };
        await db.WriteAsync((c, tx) => RepositoryStore.InsertAsync(c, tx, row, body.CredentialEnv, user.Actor()), ct);
        return new Registered(row);
    }

}
