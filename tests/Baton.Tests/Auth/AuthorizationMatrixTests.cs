using System.Net;
using System.Net.Http.Json;
using System.Text;
using Baton.Tests.Support;

namespace Baton.Tests.Auth;

/// <summary>Every endpoint: no key is 401; the role just below the one it needs is 403.</summary>
public class AuthorizationMatrixTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    public static TheoryData<string, string, string> Endpoints() => new()
    {
        { "POST", "/api/runs", "operator" },
        { "GET", "/api/runs", "viewer" },
        { "GET", "/api/runs/run_x", "viewer" },
        { "PATCH", "/api/runs/run_x", "operator" },
        { "POST", "/api/runs/run_x/next", "operator" },
        { "POST", "/api/runs/run_x/approve", "approver" },
        { "POST", "/api/runs/run_x/reject", "approver" },
        { "POST", "/api/runs/run_x/cancel", "operator" },
        { "POST", "/api/runs/run_x/retry", "operator" },
        { "POST", "/api/runs/run_x/fork", "operator" },
        { "POST", "/api/runs/run_x/tool-approvals/tap_x", "approver" },
        { "GET", "/api/runs/run_x/artifacts", "viewer" },
        { "GET", "/api/runs/run_x/artifacts/a.md", "viewer" },
        { "GET", "/api/runs/run_x/metrics", "viewer" },
        { "GET", "/api/runs/run_x/logs", "viewer" },
        { "GET", "/api/runs/run_x/events", "viewer" },
        { "GET", "/api/events", "viewer" },
        { "GET", "/api/profiles", "viewer" },
        { "GET", "/api/profiles/software_delivery", "viewer" },
        { "POST", "/api/keys", "admin" },
        { "GET", "/api/keys", "admin" },
        { "DELETE", "/api/keys/key_x", "admin" },
        { "GET", "/metrics", "viewer" },
        { "GET", "/openapi/v1.json", "viewer" },
        { "POST", "/api/repositories", "operator" },
        { "GET", "/api/repositories", "viewer" },
        { "GET", "/api/repositories/rep_x", "viewer" },
        { "DELETE", "/api/repositories/rep_x", "operator" },
    };

    private static readonly string[] Ordered = ["viewer", "operator", "approver", "admin"];

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Needs_a_key_and_the_right_role(string method, string path, string role)
    {
        var anonymous = await factory.Http(token: null).SendAsync(Request(method, path));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);

        var below = Array.IndexOf(Ordered, role) - 1;
        if (below >= 0)
        {
            var client = await factory.ClientAsAsync(Ordered[below]);
            var forbidden = await client.Http.SendAsync(Request(method, path));
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"needs the {role} role", await forbidden.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    private static HttpRequestMessage Request(string method, string path) =>
        new(new HttpMethod(method), path) { Content = method is "GET" or "DELETE" ? null : JsonContent.Create(new { }) };
}

/// <summary>
/// Repositories beyond the route's role: an operator registers git URLs; only an admin registers a local path (inside
/// BATON_REPO_ROOTS) or attaches a credential, since a local repository is code on the server's own disk.
/// </summary>
public sealed class RepositoryRoleTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();

    public static TheoryData<string, string, HttpStatusCode> Cases() => new()
    {
        { "operator", "url", HttpStatusCode.Created },
        { "operator", "local", HttpStatusCode.Forbidden },
        { "operator", "local@", HttpStatusCode.Forbidden },
        { "operator", "scp-like", HttpStatusCode.Created },
        { "operator", "url+credential", HttpStatusCode.Forbidden },
        { "approver", "local", HttpStatusCode.Forbidden },
        { "admin", "local", HttpStatusCode.Created },
        { "admin", "url+credential", HttpStatusCode.Created },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Who_may_register_what(string role, string what, HttpStatusCode expected)
    {
        _factory.Settings["BATON_REPO_ROOTS"] = _repo.Root;
        var client = role == "admin" ? _factory.Client() : await _factory.ClientAsAsync(role);
        object body = what switch
        {
            "local" => new { name = "r", url = _repo.Path },
            // An '@' does not make a path a URL: only a colon before any slash does, as git reads it.
            "local@" => new { name = "r", url = _repo.Path + "/a@b" },
            "scp-like" => new { name = "r", url = "git@example.com:acme/r.git" },
            "url" => new { name = "r", url = "https://example.com/acme/r.git" },
            _ => new { name = "r", url = "https://example.com/acme/r.git", credential_env = "ACME_GIT_TOKEN" },
        };
        var response = await client.Http.PostAsJsonAsync("/api/repositories", body);
        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("admin", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}

public class ActionBodyTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("next", """{"skip_validation":"yes"}""", "skip_validation")]
    [InlineData("next", """{"skip":true}""", "skip")]
    [InlineData("approve", """{"comment":42}""", "comment")]
    [InlineData("reject", """{"feedback":["a"]}""", "feedback")]
    [InlineData("reject", """{"feedback":"x","reject_to":7}""", "reject_to")]
    [InlineData("cancel", """{"reason":{}}""", "reason")]
    [InlineData("cancel", "not json", "body")]
    public async Task Malformed_action_bodies_are_400_with_the_field(string action, string json, string field)
    {
        var run = await factory.Client().CreateRunAsync(new Client.CreateRunRequest("gated", "x"));
        var response = await factory.Http().PostAsync($"/api/runs/{run.RunId}/{action}", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), body.ToString());
    }

    [Fact]
    public async Task A_cancel_reason_that_is_too_long_is_400()
    {
        var run = await factory.Client().CreateRunAsync(new Client.CreateRunRequest("gated", "x"));
        var response = await factory.Http().PostAsJsonAsync($"/api/runs/{run.RunId}/cancel", new { reason = new string('r', 70_000) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotEqual("cancelled", (await factory.Client().GetRunAsync(run.RunId)).Status);
    }
}
