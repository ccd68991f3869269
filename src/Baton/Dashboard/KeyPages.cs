using System.Globalization;
using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard.Components;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>What the create form said was wrong, per field (name, role, expires_at) or for the whole form, and what was typed.</summary>
public sealed record KeyFormState(IReadOnlyDictionary<string, string> Errors, string Name, string Role, string ExpiresOn)
{
    public static readonly KeyFormState Empty = new(new Dictionary<string, string>(), "", Roles.Viewer, "");

    public string? Error(string field) => Errors.TryGetValue(field, out var message) ? message : null;
}

/// <summary>
/// API keys for admins: the list, a create form that shows the new token once, and revoking with a confirmation
/// step. Creating and revoking go through <see cref="ApiKeys"/>, as the API does, so the page and the API validate alike.
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
        var keys = await db.ReadAsync(c => ApiKeyStore.ListAsync(c, null, newestFirst: true));
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
        var request = new CreateKeyRequest(name, role, expiresAt);
        foreach (var (field, messages) in ApiKeys.Validate(request, time.GetUtcNow()))
        {
            errors.TryAdd(field, string.Join(" ", messages));
        }
        var outcome = errors.Count > 0 ? null : await ApiKeys.CreateAsync(db, request, http.User.Actor(), time);
        switch (outcome)
        {
            case KeyCreation.Created { Key: var created }:
                // The token is in this response only: never in a URL, never cached.
                http.Response.Headers.CacheControl = "no-store";
                return DashboardPages.Render<KeyCreatedPage>(new { Key = created });
            case KeyCreation.NameTaken { Detail: var taken }:
                var form = new KeyFormState(new Dictionary<string, string> { ["name"] = taken }, name, role, expiresOn);
                return await RenderListAsync(db, form, "The key was not created: fix the fields marked below.", StatusCodes.Status409Conflict);
            case KeyCreation.Invalid { Errors: var invalid }:
                // Valid a moment ago: the expiry passed in between.
                foreach (var (field, messages) in invalid)
                {
                    errors.TryAdd(field, string.Join(" ", messages));
                }
                break;
        }
        return await RenderListAsync(db, new KeyFormState(errors, name, role, expiresOn), "The key was not created: fix the fields marked below.", 400);
    }

    /// <summary>A date (YYYY-MM-DD) from the form: the key stops working at the start of that day, UTC.</summary>
    public static DateTimeOffset? ParseExpiry(string text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)
            : null;

    private static async Task<IResult> ConfirmRevokeAsync(string id, HttpContext http, Database db)
    {
        var key = await db.ReadAsync(c => ApiKeyStore.FindAsync(c, null, id));
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
        return await ApiKeys.RevokeAsync(db, id, time, streams) switch
        {
            KeyRevocation.NotFound => NotFound(id),
            KeyRevocation.AlreadyRevoked => await RenderListAsync(db, KeyFormState.Empty, $"Not revoked: key '{id}' is already revoked.", StatusCodes.Status409Conflict),
            _ => Results.Redirect(IsOwn(http, id) ? "/signin" : "/keys"),
        };
    }

    private static bool IsOwn(HttpContext http, string id) => http.User.FindFirstValue(ClaimTypes.NameIdentifier) == id;

    private static IResult NotFound(string id) => DashboardPages.NotFound("Key not found", $"There is no API key '{id}'. The API keys page lists every key.");
}
