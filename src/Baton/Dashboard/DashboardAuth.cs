using System.Security.Claims;
using System.Security.Cryptography;
using Baton.Auth;
using Baton.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Baton.Dashboard;

/// <summary>
/// The dashboard signs people in with an API key and then remembers the key's id and role in a cookie. The API
/// keeps bearer keys only: a policy scheme sends dashboard paths (without an Authorization header) to the cookie.
/// </summary>
public static class DashboardAuth
{
    public const string CookieScheme = "BatonCookie";
    public const string SelectorScheme = "Baton";
    public const string CookieName = "baton_session";

    /// <summary>The cookie's claim naming its row in dashboard_sessions.</summary>
    public const string SessionClaim = "baton:session";

    public static bool IsDashboardPath(PathString path) =>
        path == "/" || path.StartsWithSegments("/signin") || path.StartsWithSegments("/signout")
        || path.StartsWithSegments("/runs") || path.StartsWithSegments("/dashboard") || path.StartsWithSegments("/theme")
        || path.StartsWithSegments("/executions") || path.StartsWithSegments("/workspaces") || path.StartsWithSegments("/profiles")
        || path.StartsWithSegments("/keys") || path.StartsWithSegments("/events") || path.StartsWithSegments("/inbox");

    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Pages are Razor components rendered on the server (static rendering, no interactive circuit).
        services.AddRazorComponents();
        // The cookie and antiforgery keys live in the data dir (owner-only), so sessions survive a restart; with
        // several nodes on PostgreSQL, in the database, so a cookie one node issued opens on every other.
        services.AddDataProtection().SetApplicationName("baton");
        // The keys are protected by the folder's owner-only mode, as the database and admin key are; the framework's
        // "stored unencrypted" warning on every start would only teach people to ignore warnings.
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager", LogLevel.Error);
        services.AddOptions<KeyManagementOptions>().Configure<BatonOptions, ILoggerFactory, Database, TimeProvider>((o, baton, logs, db, time) =>
        {
            if (baton.Database.IsPostgres)
            {
                o.XmlRepository = new DataProtectionKeyStore(db, time);
                return;
            }
            // Possibly before StartupInitializer runs: the data dir too is made owner-only.
            DirectoryInfo OwnerOnly(string path) => OperatingSystem.IsWindows()
                ? Directory.CreateDirectory(path)
                : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            OwnerOnly(baton.DataDir);
            o.XmlRepository = new FileSystemXmlRepository(OwnerOnly(Path.Combine(baton.DataDir, "data-protection")), logs);
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "baton_csrf";
            // Its default never sets Secure; like the session cookie, it is Secure whenever the browser used HTTPS.
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__csrf";
        });
        // Runs after AddBaton's AddAuthentication(ApiKey), so the selector becomes the default scheme.
        services.AddAuthentication(o => o.DefaultScheme = SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "API key or dashboard cookie", o => o.ForwardDefaultSelector = context =>
                IsDashboardPath(context.Request.Path) && string.IsNullOrEmpty(context.Request.Headers.Authorization)
                    ? CookieScheme
                    : ApiKeyAuthenticationHandler.SchemeName)
            .AddCookie(CookieScheme, o =>
            {
                o.Cookie.Name = CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.LoginPath = "/signin";
                o.ReturnUrlParameter = "return";
                // The cookie lasts as long as its session (BATON_SESSION_TTL, set below) and does not slide: a browser in
                // daily use must still sign in again. The session row's age is what counts; the cookie only follows it.
                o.SlidingExpiration = false;
                o.Events = new CookieAuthenticationEvents
                {
                    OnValidatePrincipal = ValidateKeyAsync,
                    OnRedirectToAccessDenied = context =>
                    {
                        return DashboardPages.Forbidden(context.HttpContext).ExecuteAsync(context.HttpContext);
                    },
                };
            });
        services.AddOptions<CookieAuthenticationOptions>(CookieScheme).Configure<BatonOptions>((o, baton) => o.ExpireTimeSpan = baton.SessionTtl);
        return builder;
    }

    /// <summary>The sign-in time before which a session has ended, however busy its browser has been.</summary>
    public static long OldestLiveSession(IServiceProvider services, DateTimeOffset now) =>
        (now - services.GetRequiredService<BatonOptions>().SessionTtl).ToMs();

    /// <summary>
    /// Like the bearer handler, every request checks the key and its session: a revoked or expired key, or a session
    /// that was signed out or is older than BATON_SESSION_TTL, signs the browser out; a key whose role was changed (the bootstrap keys can be) gets its
    /// new role at once. One indexed read, as before sessions were kept.
    /// </summary>
    private static async Task ValidateKeyAsync(CookieValidatePrincipalContext context)
    {
        var keyId = context.Principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        var sessionId = context.Principal?.FindFirstValue(SessionClaim);
        var services = context.HttpContext.RequestServices;
        var db = services.GetRequiredService<Database>();
        var clock = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var now = clock.ToMs();
        var oldest = OldestLiveSession(services, clock);
        // A cookie from before sessions were kept has no session id: it is refused, and its browser signs in again.
        var key = keyId is null || sessionId is null ? null
            : await db.ReadAsync(c => ApiKeyStore.FindBySessionAsync(c, null, sessionId, keyId, now, oldest), context.HttpContext.RequestAborted);
        if (key is null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieScheme);
        }
        else if (key.Role != context.Principal!.FindFirstValue(ClaimTypes.Role) || key.Name != context.Principal!.Identity?.Name)
        {
            context.ReplacePrincipal(Principal(key, sessionId!));
            context.ShouldRenew = true;
        }
    }

    /// <summary>
    /// Signs the browser in as this key: a new session row, named in the cookie. Ended sessions and those of revoked
    /// and expired keys are cleared on the way, since they can never be used again.
    /// </summary>
    public static async Task SignInAsync(HttpContext http, ApiKeyRow key)
    {
        var db = http.RequestServices.GetRequiredService<Database>();
        var clock = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        var now = clock.ToMs();
        var oldest = OldestLiveSession(http.RequestServices, clock);
        var sessionId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await db.WriteAsync((c, tx) => DashboardSessionStore.StartAsync(c, tx, sessionId, key.Id, now, oldest));
        await http.SignInAsync(CookieScheme, Principal(key, sessionId));
    }

    /// <summary>Ends this browser's session on the server, so that a copy of its cookie is refused from now on.</summary>
    public static async Task SignOutAsync(HttpContext http)
    {
        var signedIn = await http.AuthenticateAsync(CookieScheme);
        if (signedIn.Principal?.FindFirstValue(SessionClaim) is { } sessionId)
        {
            var db = http.RequestServices.GetRequiredService<Database>();
            await db.WriteAsync((c, tx) => DashboardSessionStore.EndAsync(c, tx, sessionId));
            // After the commit: the session's open pages stop receiving now, not at their next periodic check.
            http.RequestServices.GetRequiredService<Runs.OpenStreams>().EndStreamsOfSession(sessionId);
        }
        await http.SignOutAsync(CookieScheme);
    }

    private static ClaimsPrincipal Principal(ApiKeyRow key, string sessionId) => new(new ClaimsIdentity(
        [.. Roles.ClaimsOf(key), new Claim(SessionClaim, sessionId)],
        CookieScheme));
}
