using System.Text.Json.Serialization;
using Baton.Agents;
using Baton.Audit;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard;
using Baton.Engine;
using Baton.Ops;
using Baton.Profiles;
using Baton.Retention;
using Baton.Runs;
using Baton.ToolApprovals;
using Baton.Webhooks;
using Baton.Storage;
using Baton.Workspaces;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Baton;

public static class BatonHost
{
    /// <summary>
    /// Configuration is read once. Watching appsettings for changes watches the content root recursively, and the
    /// default data dir (./.baton) is inside it: every database write woke the watcher (5-9% CPU in the benchmark).
    /// </summary>
    public const string NoConfigReload = "--hostBuilder:reloadConfigOnChange=false";

    public static WebApplicationBuilder AddBaton(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Resolved from the final configuration when first needed, so hosts and tests can add settings late.
        services.AddSingleton(sp => BatonOptions.From(sp.GetRequiredService<IConfiguration>()));
        // On PostgreSQL, nodes share lease and due times: the system clock set to the database's. A test's own clock,
        // registered after this, replaces it (and DatabaseClockService then has nothing to measure).
        services.AddSingleton(_ => new DatabaseClock(TimeProvider.System));
        services.TryAddSingleton(sp => sp.GetRequiredService<BatonOptions>().Database.IsPostgres ? sp.GetRequiredService<DatabaseClock>() : TimeProvider.System);
        services.AddSingleton(sp => Database.Open(sp.GetRequiredService<BatonOptions>().Database));
        services.AddSingleton(sp => new ProfileCatalog(Path.Combine(sp.GetRequiredService<BatonOptions>().DataDir, "profiles")));
        services.AddSingleton<EngineSignals>();
        services.AddSingleton<RunningExecutions>();
        services.AddSingleton(sp => NodeIdentity.Of(sp.GetRequiredService<BatonOptions>()));
        services.AddSingleton<JobQueue>();
        services.AddSingleton<RunTransitions>();
        services.AddSingleton<RunListAnswers>();
        services.AddSingleton<AuditWriter>();
        services.AddSingleton<PhaseExecutor>();
        services.AddSingleton<ExecutionLifecycle>();
        services.AddSingleton<StandaloneExecutor>();
        services.AddSingleton<AgentWork>();
        services.AddSingleton<ToolApprovals.AgentKeys>();
        services.AddSingleton<ToolApprovals.AgentCallbacks>();
        services.AddSingleton<Agents.Sandbox>();
        services.AddSingleton<GitWorkspaces>();
        services.AddBatonTelemetry();
        services.AddSingleton<RenderCache>();
        services.AddSingleton(sp => UsageLimits.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<OpenStreams>();
        services.AddSingleton<EventFeed>();
        services.AddSingleton<EventSequencer>();
        services.AddSingleton<Retention.RunRetention>();
        services.AddHostedService<Retention.RetentionJanitor>();
        services.AddSingleton<Webhooks.WebhookSender>();
        services.AddHttpClient(Webhooks.WebhookSender.HttpClientName, c => c.Timeout = Webhooks.WebhookSender.Timeout)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<BatonOptions>();
            return new EngineOptions { Concurrency = o.Concurrency, Enabled = o.Role != BatonOptions.ApiRole };
        });
        services.AddHostedService<StartupInitializer>();
        // Before the engine, so that its first lease is timed by the database's clock.
        services.AddHostedService<DatabaseClockService>();
        services.AddHostedService<EngineHost>();
        services.AddHostedService<NodeHeartbeat>();
        services.AddHostedService<ClusterSignals>();
        // On every role: api nodes write events too (creations, decisions).
        services.AddHostedService(sp => sp.GetRequiredService<EventSequencer>());
        services.AddHostedService<WorkspaceJanitor>();
        // After the start-up initializer: the feed reads the events table, which the migrations create.
        services.AddHostedService(sp => sp.GetRequiredService<EventFeed>());
        services.AddHostedService<Webhooks.WebhookWaker>();

        services.ConfigureHttpJsonOptions(o =>
        {
            BatonJson.Configure(o.SerializerOptions);
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>()
            .Configure<IConfiguration>((o, config) => TrustedProxies.Configure(o, config[TrustedProxies.Setting]));
        services.AddProblemDetails();
        services.AddExceptionHandler<BadInputExceptionHandler>();
        services.AddOpenApi();
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<BatonOptions>((kestrel, o) => kestrel.Limits.MaxRequestBodySize = o.MaxRequestBytes);

        services.AddSingleton<RequestRateLimit>();
        services.AddSingleton<ActiveKeys>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var authorization = services.AddAuthorizationBuilder();
        foreach (var role in Roles.Ordered)
        {
            authorization.AddPolicy(role, p => p.RequireAuthenticatedUser().RequireAssertion(c => c.User.Has(role)));
        }
        // Secure by default: an endpoint without its own policy still needs a key.
        authorization.SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.AddDashboard();
        return builder;
    }

    public static WebApplication MapBaton(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<BatonOptions>();
        // First, so that everything after sees the scheme and address the browser used (when a trusted proxy says so).
        app.UseForwardedHeaders();
        // First after the address is known: every write is recorded with the answer it got, refusals included.
        app.UseMiddleware<AuditLog>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(async (context, next) =>
        {
            // An endpoint with a request size limit of its own (the dashboard's upload form) enforces it while reading,
            // so that it can answer in its own way: a page with the form, not this problem.
            if (context.Request.ContentLength > options.MaxRequestBytes
                && context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata>() is null)
            {
                await Problems.WriteAsync(context, 413, "Payload too large", $"the request body is larger than {options.MaxRequestBytes / 1024 / 1024} MiB");
                return;
            }
            if (RequestCharset.Unsupported(context.Request) is { } charset)
            {
                await Problems.WriteAsync(context, 415, "Unsupported media type", $"the request body's charset '{charset[..Math.Min(charset.Length, 40)]}' is not supported; send UTF-8");
                return;
            }
            await next(context);
        });
        app.UseAuthentication();
        var rateLimit = app.Services.GetRequiredService<RequestRateLimit>();
        app.Use(async (context, next) =>
        {
            // Per API key (per address for anonymous calls), so one noisy script cannot starve everyone else.
            if (!rateLimit.TryTake(context, out var wait))
            {
                var retryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Problems.WriteAsync(context, 429, "Too many requests", $"rate limit reached; try again in {retryAfter} s");
                return;
            }
            await next(context);
        });
        app.UseAuthorization();

        app.MapOpsApi();
        if (options.Role == BatonOptions.WorkerRole)
        {
            // A worker node runs the engine; people and scripts talk to the API nodes.
            return app;
        }
        app.MapOpenApi();
        app.MapRunsApi();
        app.MapInboxApi();
        app.MapProfilesApi();
        app.MapKeysApi();
        app.MapSignInLinksApi();
        app.MapWorkersApi();
        app.MapRepositoriesApi();
        app.MapAgentRuntimeApi();
        app.MapWebhooksApi();
        app.MapAuditApi();
        app.MapGcApi();
        app.MapToolApprovalsApi();
        app.MapDashboard();
        return app;
    }
}
