using System.Reflection;
using Baton.Dashboard;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Abuse;

/// <summary>One endpoint as the running app maps it: its method, its route (as the audit log writes it) and what it reads.</summary>
public sealed record MappedEndpoint(string Method, string Route, IReadOnlyList<string> RouteParameters, Type? JsonBody, IReadOnlyList<QueryParameter> Query)
{
    public string Key => $"{Method} {Route}";

    /// <summary>A dashboard page or form: without an Authorization header it is the browser's cookie that counts.</summary>
    public bool IsDashboard => DashboardAuth.IsDashboardPath(Route.Split('{')[0].TrimEnd('/') is { Length: > 0 } p ? p : "/");

    public bool IsWrite => Method is not ("GET" or "HEAD" or "OPTIONS");

    /// <summary>The route with each parameter replaced by <paramref name="value"/> (already escaped for a path).</summary>
    public string PathWith(Func<string, string> value) =>
        RouteParameters.Aggregate(Route, (path, name) => path.Replace("{" + name + "}", value(name), StringComparison.Ordinal));
}

/// <summary>A query-string parameter of an endpoint's handler, and the type it is bound to.</summary>
public sealed record QueryParameter(string Name, Type Type);

/// <summary>
/// Every endpoint of the app, read from its route table (not a hand list, so an endpoint added later is covered), and
/// what each one should allow: the role table of docs/SECURITY.md. An endpoint without an entry here fails the tests
/// that use it, with a message saying to add one.
/// </summary>
public static class EndpointCatalog
{
    /// <summary>Anyone, with or without a key: the endpoint decides for itself (health, sign-in, an agent's own callbacks).</summary>
    public const string Anonymous = "anonymous";

    /// <summary>The least role each endpoint needs (Roles.Ordered), or <see cref="Anonymous"/>; from docs/SECURITY.md's table.</summary>
    public static readonly IReadOnlyDictionary<string, string> Expected = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Operations.
        ["GET /healthz"] = Anonymous,
        ["GET /readyz"] = Anonymous,
        // The Prometheus exporter maps /metrics for every method: a POST is a read too, and still needs a key.
        ["GET /metrics"] = "viewer",
        ["POST /metrics"] = "viewer",
        ["GET /openapi/{documentName}.json"] = "viewer",
        ["POST /api/gc"] = "admin",
        ["GET /api/audit"] = "admin",
        // Runs: viewers read; operators create, step, cancel and retry; approvers decide gates and tool calls.
        ["POST /api/runs"] = "operator",
        ["GET /api/runs"] = "viewer",
        ["GET /api/runs/{id}"] = "viewer",
        ["PATCH /api/runs/{id}"] = "operator",
        ["POST /api/runs/{id}/next"] = "operator",
        ["POST /api/runs/{id}/approve"] = "approver",
        ["POST /api/runs/{id}/reject"] = "approver",
        ["POST /api/runs/{id}/cancel"] = "operator",
        ["POST /api/runs/{id}/retry"] = "operator",
        ["POST /api/runs/{id}/fork"] = "operator",
        ["POST /api/runs/{id}/tool-approvals/{approvalId}"] = "approver",
        ["GET /api/runs/{id}/artifacts"] = "viewer",
        ["GET /api/runs/{id}/artifacts/{name}"] = "viewer",
        ["GET /api/runs/{id}/metrics"] = "viewer",
        ["GET /api/runs/{id}/logs"] = "viewer",
        ["GET /api/runs/{id}/events"] = "viewer",
        ["GET /api/events"] = "viewer",
        ["GET /api/inbox"] = "viewer",
        ["GET /api/profiles"] = "viewer",
        ["GET /api/profiles/{name}"] = "viewer",
        // Keys, workers and webhooks are an admin's.
        ["POST /api/keys"] = "admin",
        ["GET /api/keys"] = "admin",
        ["DELETE /api/keys/{id}"] = "admin",
        ["POST /api/signin-links"] = "viewer",
        ["POST /api/workers"] = "admin",
        ["GET /api/workers"] = "viewer",
        ["GET /api/workers/{id}"] = "viewer",
        ["DELETE /api/workers/{id}"] = "admin",
        ["POST /api/webhooks"] = "admin",
        ["GET /api/webhooks"] = "admin",
        ["DELETE /api/webhooks/{id}"] = "admin",
        ["GET /api/webhooks/{id}/deliveries"] = "admin",
        // Repositories and work items: operators register URLs (local paths are checked in the handler: admin only).
        ["POST /api/repositories"] = "operator",
        ["GET /api/repositories"] = "viewer",
        ["GET /api/repositories/{id}"] = "viewer",
        ["DELETE /api/repositories/{id}"] = "operator",
        ["POST /api/work-items"] = "operator",
        ["GET /api/work-items"] = "viewer",
        ["GET /api/work-items/{id}"] = "viewer",
        ["DELETE /api/work-items/{id}"] = "operator",
        // Standalone executions.
        ["POST /api/agent-runtime/execute"] = "operator",
        ["GET /api/agent-runtime/executions/{id}"] = "viewer",
        ["POST /api/agent-runtime/executions/{id}/cancel"] = "operator",
        ["GET /api/agent-runtime/executions/{id}/events"] = "viewer",
        ["GET /api/agent-runtime/workspaces"] = "viewer",
        ["DELETE /api/agent-runtime/workspaces/{id}"] = "operator",
        // An agent's own callbacks: authenticated by the execution's agent key in the handler, not by an API key.
        ["POST /api/agent-runtime/executions/{id}/tool-approvals"] = Anonymous,
        ["GET /api/agent-runtime/executions/{id}/tool-approvals/{approvalId}"] = Anonymous,
        // The dashboard: signing in and out, the theme and its assets are open; pages and forms as the API.
        ["GET /signin"] = Anonymous,
        ["POST /signin"] = Anonymous,
        ["GET /signin/link"] = Anonymous,
        ["POST /signin/link/preview"] = Anonymous,
        ["POST /signin/link"] = Anonymous,
        ["POST /signout"] = Anonymous,
        ["POST /theme"] = Anonymous,
        ["GET /dashboard/{file}"] = Anonymous,
        ["GET /"] = "viewer",
        ["GET /events"] = "viewer",
        ["POST /runs/bulk"] = "operator",
        ["GET /runs/new"] = "operator",
        ["POST /runs/new"] = "operator",
        ["GET /runs/{id}"] = "viewer",
        ["GET /runs/{id}/logs.txt"] = "viewer",
        ["GET /runs/{id}/events"] = "viewer",
        ["POST /runs/{id}/approve"] = "approver",
        ["POST /runs/{id}/reject"] = "approver",
        ["POST /runs/{id}/next"] = "operator",
        ["POST /runs/{id}/cancel"] = "operator",
        ["POST /runs/{id}/retry"] = "operator",
        ["POST /runs/{id}/fork"] = "operator",
        ["POST /runs/{id}/tool-approvals/{approvalId}"] = "approver",
        ["GET /runs/{id}/artifacts/{name}"] = "viewer",
        ["GET /runs/{id}/artifacts/{name}/compare"] = "viewer",
        ["GET /runs/{id}/artifacts/{name}/raw"] = "viewer",
        ["GET /executions"] = "viewer",
        ["GET /executions/{id}"] = "viewer",
        ["GET /executions/{id}/events"] = "viewer",
        ["POST /executions/{id}/cancel"] = "operator",
        ["GET /workspaces"] = "viewer",
        ["GET /profiles"] = "viewer",
        ["GET /profiles/{name}"] = "viewer",
        ["GET /inbox"] = "viewer",
        ["GET /inbox/count"] = "viewer",
        ["GET /keys"] = "admin",
        ["POST /keys"] = "admin",
        ["GET /keys/{id}/revoke"] = "admin",
        ["POST /keys/{id}/revoke"] = "admin",
    };

    /// <summary>Endpoints that answer with an event stream (kept open until the client leaves).</summary>
    public static bool IsStream(MappedEndpoint e) => e.Method == "GET" && (e.Route.EndsWith("/events", StringComparison.Ordinal) || e.Route == "/events");

    /// <summary>Every endpoint the app maps, one per method, in route order.</summary>
    public static IReadOnlyList<MappedEndpoint> Of(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? AnyMethod).Select(m => Describe(e, m)))
            .OrderBy(e => e.Route, StringComparer.Ordinal).ThenBy(e => e.Method, StringComparer.Ordinal)
            .ToList();

    /// <summary>What an endpoint mapped for every method is tried with.</summary>
    private static readonly string[] AnyMethod = ["GET", "POST"];

    /// <summary>The least role of an endpoint, or a failure that says what to add.</summary>
    public static string RoleOf(MappedEndpoint e) => Expected.TryGetValue(e.Key, out var role)
        ? role
        : throw new Xunit.Sdk.XunitException(
            $"The app maps '{e.Key}', which tests/Baton.Tests/Abuse/EndpointCatalog.cs does not know: add it to Expected with the least role " +
            "docs/SECURITY.md gives it (or Anonymous), so the role matrix and the bad-input corpus cover it.");

    private static MappedEndpoint Describe(RouteEndpoint endpoint, string method)
    {
        // As the audit log writes routes: a group's "/" route is the group's own path.
        var raw = endpoint.RoutePattern.RawText ?? "";
        var route = raw.Length > 1 ? raw.TrimEnd('/') : raw;
        if (!route.StartsWith('/'))
        {
            route = "/" + route;
        }
        var parameters = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToList();
        var body = endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: { } type } accepts
            && accepts.ContentTypes.Any(c => c.Contains("json", StringComparison.Ordinal)) ? type : null;
        var query = endpoint.Metadata.GetMetadata<MethodInfo>()?.GetParameters()
            .Where(p => p.Name is not null && !parameters.Contains(p.Name, StringComparer.OrdinalIgnoreCase) && IsSimple(p.ParameterType) && p.ParameterType != body)
            .Select(p => new QueryParameter(p.Name!, p.ParameterType))
            .ToList() ?? [];
        return new MappedEndpoint(method, route, parameters, body, query);
    }

    private static bool IsSimple(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(DateTimeOffset) || t == typeof(DateTime) || t == typeof(Guid);
    }
}
