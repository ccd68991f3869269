using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Dashboard;

/// <summary>
/// One-time sign-in links: a URL that signs a browser in as a key without pasting the key. The code is the URL's
/// fragment, so it is never part of a request line and never logged. Opening the link shows a button (neither the
/// GET nor the page's post of the code signs in, so a link preview or prefetch cannot use it up); the button's POST
/// spends it. It works once, for an hour, and only while its key is active. Only the code's hash is stored.
/// </summary>
public static class SignInLinks
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    public static IEndpointRouteBuilder MapSignInLinksApi(this IEndpointRouteBuilder app)
    {
        // Any key may ask for a link that signs a browser in as itself: the link grants nothing the key does not.
        app.MapPost("/api/signin-links", CreateForCallerAsync).WithTags("Keys").RequireAuthorization(Roles.Viewer);
        return app;
    }

    private static async Task<Created<SignInLink>> CreateForCallerAsync(HttpContext http, Database db, TimeProvider time)
    {
        // The API authenticates bearer keys only, and the key handler names the key's id.
        var keyId = http.User.FindFirstValue(ClaimTypes.NameIdentifier)!;
        return TypedResults.Created((string?)null, await CreateAsync(db, keyId, $"{http.Request.Scheme}://{http.Request.Host}", time));
    }

    public static async Task<SignInLink> CreateAsync(Database db, string keyId, string baseUrl, TimeProvider time)
    {
        var code = ApiKeys.NewToken()[ApiKeys.TokenPrefix.Length..];
        var now = time.GetUtcNow();
        await db.WriteAsync((c, tx) => SignInLinkStore.InsertAsync(c, tx, ApiKeys.Hash(code), keyId, now.ToMs(), (now + Lifetime).ToMs()));
        // In the fragment, which browsers never send: the code reaches no request log, neither ours nor a proxy's.
        return new SignInLink($"{baseUrl.TrimEnd('/')}/signin/link#code={Uri.EscapeDataString(code)}", now + Lifetime);
    }

    /// <summary>The key a link would sign in as, without spending it; null when the link is unknown, used, expired or its key revoked.</summary>
    public static Task<ApiKeyRow?> PeekAsync(Database db, string code, DateTimeOffset now) =>
        db.ReadAsync(c => ApiKeyStore.FindBySignInLinkAsync(c, null, ApiKeys.Hash(code), now.ToMs()));

    /// <summary>Spends the link (in the same transaction that checks it, so two tabs cannot both use it) and returns its key.</summary>
    public static Task<ApiKeyRow?> RedeemAsync(Database db, string code, DateTimeOffset now) =>
        db.WriteAsync(async (c, tx) =>
        {
            var hash = ApiKeys.Hash(code);
            var key = await ApiKeyStore.FindBySignInLinkAsync(c, tx, hash, now.ToMs());
            if (key is not null)
            {
                await SignInLinkStore.MarkUsedAsync(c, tx, hash, now.ToMs());
            }
            return key;
        });
}
