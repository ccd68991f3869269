using System.Globalization;
using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard.Components;
using Baton.Runs;
using Baton.Storage;
using Dapper;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>What the create form said was wrong, per field (name, role, expires_at) or for the whole form, and what was typed.</summary>
public sealed record KeyFormState(IReadOnlyDictionary<string, string> Errors, string Name, string Role, string ExpiresOn)
{
    public static readonly KeyFormState Empty = new(new Dictionary<string, string>(), "", Roles.Viewer, "");

    public string? Error(string field) => Errors.TryGetValue(field, out var message) ? message : null;
}

/// <summary>
/// API keys for admins: the list, a create form that shows the new token once, and revoking with a confirmation
/// step. Creating and revoking go through <see cref="KeysApi"/>, so the page and the API validate alike.
/// </summary>
public static class KeyPages
{
    public static void Map(RouteGroupBuilder pages)
    {
        var keys = pages.MapGroup("/keys").RequireAuthorization(Roles.Admin);
        keys.MapGet("", ListAsync);
        keys.MapPost("", CreateAsync);
        keys.MapGet("/{id}/revoke", ConfirmRevokeAsync);
        keys.MapPost("/{id}/revoke", RevokeAsync);
    }

    private static Task<IResult> ListAsync(Database db) => RenderListAsync(db, KeyFormState.Empty, null, 200);

    private static async Task<IResult> RenderListAsync(Database db, KeyFormState form, string? message, int status)
    {
        var keys = await db.ReadAsync(c => c.QueryAsync<ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at DESC, id DESC"));
        return DashboardPages.Render<KeysPage>(new { Keys = keys.ToList(), Form = form, Message = message }, status);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time)
    {
        var (fields, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (fields is null)
        {
            return badForm!;
        }
        var name = fields["name"].ToString().Trim();
        var role = fields["role"].ToString().Trim();
        var expiresOn = fields["expires_on"].ToString().Trim();
        var errors = new Dictionary<string, string>();
        DateTimeOffset? expiresAt = null;
        if (expiresOn.Length > 0)
        {
            if (ParseExpiry(expiresOn) is { } parsed)
            {
                expiresAt = parsed;
            }
            else
            {
                errors["expires_at"] = $"'{expiresOn}' is not a date; use the form YYYY-MM-DD, or leave it empty for a key that does not expire.";
            }
        }
        var result = (await KeysApi.CreateAsync(new CreateKeyRequest(name, role, expiresAt), http.User, db, time)).Result;
        if (result is ValidationProblem invalid)
        {
            foreach (var (field, messages) in invalid.ProblemDetails.Errors)
            {
                errors.TryAdd(field, string.Join(" ", messages));
            }
        }
        if (errors.Count > 0)
        {
            return await RenderListAsync(db, new KeyFormState(errors, name, role, expiresOn), "The key was not created: fix the fields marked below.", 400);
        }
        switch (result)
        {
            case Created<CreatedKey> { Value: { } created }:
                // The token is in this response only: never in a URL, never cached.
                http.Response.Headers.CacheControl = "no-store";
                return DashboardPages.Render<KeyCreatedPage>(new { Key = created });
            case ProblemHttpResult problem:
                var form = new KeyFormState(new Dictionary<string, string> { ["name"] = problem.ProblemDetails.Detail ?? "The key was not created." }, name, role, expiresOn);
                return await RenderListAsync(db, form, "The key was not created: fix the fields marked below.", problem.StatusCode);
            default:
                throw new InvalidOperationException($"unexpected create result {result.GetType().Name}");
        }
    }

    /// <summary>A date (YYYY-MM-DD) from the form: the key stops working at the start of that day, UTC.</summary>
    public static DateTimeOffset? ParseExpiry(string text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)
            : null;

    private static async Task<IResult> ConfirmRevokeAsync(string id, HttpContext http, Database db)
    {
        var key = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<ApiKeyRow>("SELECT * FROM api_keys WHERE id = @id", new { id }));
        return key is null
            ? NotFound(id)
            : DashboardPages.Render<KeyRevokePage>(new { Key = key, Own = IsOwn(http, id) });
    }

    private static async Task<IResult> RevokeAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, TimeProvider time, OpenStreams streams)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var result = (await KeysApi.RevokeAsync(id, db, time, streams)).Result;
        return result switch
        {
            NoContent => Results.Redirect(IsOwn(http, id) ? "/signin" : "/keys"),
            ProblemHttpResult { StatusCode: 404 } => NotFound(id),
            ProblemHttpResult problem => await RenderListAsync(db, KeyFormState.Empty, $"Not revoked: {problem.ProblemDetails.Detail}.", problem.StatusCode),
            _ => throw new InvalidOperationException($"unexpected revoke result {result.GetType().Name}"),
        };
    }

    private static bool IsOwn(HttpContext http, string id) => http.User.FindFirstValue(ClaimTypes.NameIdentifier) == id;

    private static IResult NotFound(string id) => DashboardPages.NotFound("Key not found", $"There is no API key '{id}'. The API keys page lists every key.");
}
