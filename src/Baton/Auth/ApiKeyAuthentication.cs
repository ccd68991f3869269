using System.Security.Claims;
using System.Text.Encodings.Web;
using Baton.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Baton.Auth;

/// <summary>`Authorization: Bearer &lt;api key&gt;`. Revocation is immediate: see <see cref="ActiveKeys"/>.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    Database db,
    ActiveKeys keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 512)
        {
            return AuthenticateResult.Fail("expected `Authorization: Bearer <api key>`");
        }
        var token = header["Bearer ".Length..].Trim();
        var key = await keys.FindAsync(token, Context.RequestAborted);
        if (key is null)
        {
            // A revoked or expired key's attempt is the audit log's business: it is recorded with that key, so a leaked
            // key still in use shows up by its id. Only on refusal, so an accepted request still costs one read.
            if (await db.ReadAsync(c => ApiKeys.FindAnyAsync(c, token), Context.RequestAborted) is { } refused)
            {
                Context.Items[Audit.AuditLog.RefusedKeyItem] = refused;
            }
            return AuthenticateResult.Fail("unknown, revoked or expired API key");
        }
        var identity = new ClaimsIdentity(Roles.ClaimsOf(key), SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure?.Message;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized",
            failure ?? "an API key is required: send `Authorization: Bearer <api key>`");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // The endpoint's policies are role names: say which one this needs, so the fix is obvious.
        var needed = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>()
            .Select(a => a.Policy).OfType<string>().Where(p => Roles.Rank(p) >= 0).MaxBy(Roles.Rank);
        var role = Context.User.FindFirstValue(ClaimTypes.Role);
        return Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden",
            needed is null ? $"the role '{role}' may not do this" : $"this needs the {needed} role; the key '{Context.User.Identity?.Name}' has {role}");
    }
}
