using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Auth;

/// <summary>Keys and dashboard sessions end when people end them, and stay ended across restarts.</summary>
public sealed partial class SessionSecurityTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Sign_out_ends_the_session_on_the_server_so_a_copied_cookie_is_refused()
    {
        var key = await factory.Client().CreateKeyAsync(new CreateKeyRequest($"session-{Guid.NewGuid():N}", "viewer"));
        using var browser = new Browser(factory);
        var signedIn = await browser.SignInAsync(key.Token);
        var copied = signedIn.Cookies.Single(c => c.StartsWith(DashboardAuth.CookieName + "=", StringComparison.Ordinal)).Split(';')[0];
        using var thief = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        async Task<HttpResponseMessage> ReplayAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("Cookie", copied);
            return await thief.SendAsync(request);
        }

        using var before = await ReplayAsync();
        await browser.GetAsync("/");
        var signedOut = await browser.PostAsync("/signout");
        using var after = await ReplayAsync();
        var own = await browser.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, before.StatusCode); // the copy works while the session lasts
        Assert.Equal(HttpStatusCode.Redirect, signedOut.Status);
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.Equal("/signin", after.Headers.Location?.AbsolutePath);
        Assert.Equal(HttpStatusCode.Redirect, own.Status);
        Assert.NotNull(await factory.Client(key.Token).ListRunsAsync()); // the key itself is not revoked
    }

    [Fact]
    public async Task Sign_out_ends_the_sessions_open_live_update_stream_at_once()
    {
        var key = await factory.Client().CreateKeyAsync(new CreateKeyRequest($"stream-{Guid.NewGuid():N}", "viewer"));
        using var browser = new Browser(factory);
        await browser.SignInAsync(key.Token);
        await browser.GetAsync("/");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ended = await browser.ReadEventStreamAsync(timeout.Token);

        await browser.PostAsync("/signout");

        // Without the session's end, nothing would stop it: the key itself stays valid.
        Assert.Same(ended, await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(10), timeout.Token)));
    }

    [Fact]
    public async Task Signing_out_one_browser_leaves_the_keys_other_sessions_signed_in()
    {
        var key = await factory.Client().CreateKeyAsync(new CreateKeyRequest($"two-browsers-{Guid.NewGuid():N}", "viewer"));
        using var laptop = new Browser(factory);
        using var phone = new Browser(factory);
        await laptop.SignInAsync(key.Token);
        await phone.SignInAsync(key.Token);

        await laptop.GetAsync("/");
        await laptop.PostAsync("/signout");

        Assert.Equal(HttpStatusCode.Redirect, (await laptop.GetAsync("/")).Status);
        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync("/")).Status);
    }

    [Fact]
    public async Task A_revoked_bootstrap_admin_token_is_refused_at_the_next_start_with_a_clear_message()
    {
        string dataDir;
        using (var first = new BatonFactory { KeepDataDir = true })
        {
            dataDir = first.DataDir;
            var second = await first.Client().CreateKeyAsync(new CreateKeyRequest("second-admin", "admin"));
            var bootstrap = (await first.Client().ListKeysAsync()).Keys.Single(k => k.Name == "bootstrap-admin");
            await first.Client(second.Token).RevokeKeyAsync(bootstrap.KeyId);
        }

        var (exitCode, output) = await ServerProcess.RunUntilStartFailsAsync(dataDir, new Dictionary<string, string> { ["BATON_ADMIN_TOKEN"] = BatonFactory.AdminToken });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("BATON_ADMIN_TOKEN is the token of the key 'bootstrap-admin'", output, StringComparison.Ordinal);
        Assert.Contains("revoked", output, StringComparison.Ordinal);
        await using var db = TestDatabase.Open(dataDir);
        Assert.NotNull(await db.ReadAsync(c => c.ExecuteScalarAsync<long?>("SELECT revoked_at FROM api_keys WHERE name = 'bootstrap-admin'")));
        Assert.Equal(0L, await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM api_keys WHERE name = 'bootstrap-admin' AND revoked_at IS NULL")));
    }

    [Fact]
    public async Task A_revoked_local_admin_key_is_refused_at_the_next_start_and_the_message_says_which_file()
    {
        string dataDir;
        using (var first = new BatonFactory { KeepDataDir = true })
        {
            first.Settings["BATON_LOCAL_ADMIN_KEY"] = "true";
            dataDir = first.DataDir;
            var local = (await first.Client().ListKeysAsync()).Keys.Single(k => k.Name == "local-admin");
            await first.Client().RevokeKeyAsync(local.KeyId);
        }

        var (exitCode, output) = await ServerProcess.RunUntilStartFailsAsync(dataDir, new Dictionary<string, string> { ["BATON_LOCAL_ADMIN_KEY"] = "true" });

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"the local admin key in {Path.Combine(dataDir, "admin.token")}", output, StringComparison.Ordinal);
        Assert.Contains("revoked", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Behind a TLS proxy the server sees plain HTTP; the proxy's X-Forwarded-Proto says the browser used HTTPS. Only
    /// a trusted proxy may say so (anyone else could make cookies Secure or, worse, pose as another address).
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1", null, true)]
    [InlineData("::1", null, true)]
    [InlineData("10.1.2.3", null, false)]
    [InlineData("10.1.2.3", "10.1.2.0/24", true)]
    [InlineData("10.1.2.3", "192.168.0.10, 10.1.2.3", true)]
    [InlineData("127.0.0.1", "10.1.2.3", false)]
    public async Task Cookies_are_secure_when_a_trusted_proxy_says_the_request_was_https(string proxy, string? trusted, bool secure)
    {
        using var proxied = new ProxiedFactory(IPAddress.Parse(proxy));
        if (trusted is not null)
        {
            proxied.Settings["BATON_TRUSTED_PROXIES"] = trusted;
        }
        var key = await proxied.Client().CreateKeyAsync(new CreateKeyRequest("proxied", "viewer"));
        using var http = proxied.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });

        using var page = await http.SendAsync(ThroughProxy(HttpMethod.Get, "/signin"));
        var csrfCookie = SetCookie(page, "baton_csrf");
        var token = WebUtility.HtmlDecode(CsrfField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value);
        var post = ThroughProxy(HttpMethod.Post, "/signin");
        post.Headers.Add("Cookie", csrfCookie.Split(';')[0]);
        post.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["api_key"] = key.Token, ["__csrf"] = token });
        using var signedIn = await http.SendAsync(post);
        var session = SetCookie(signedIn, DashboardAuth.CookieName);

        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal(secure, IsSecure(csrfCookie));
        Assert.Equal(secure, IsSecure(session));
    }

    [Fact]
    public void A_trusted_proxy_setting_that_is_not_an_address_stops_the_start_with_a_clear_message()
    {
        using var factory = new BatonFactory();
        factory.Settings["BATON_TRUSTED_PROXIES"] = "10.0.0.1, proxy.example";

        var refused = Record.Exception(() => factory.CreateClient());

        Assert.NotNull(refused);
        Assert.Contains("BATON_TRUSTED_PROXIES", refused.GetBaseException().Message, StringComparison.Ordinal);
        Assert.Contains("proxy.example", refused.GetBaseException().Message, StringComparison.Ordinal);
    }

    private static HttpRequestMessage ThroughProxy(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        return request;
    }

    private static string SetCookie(HttpResponseMessage response, string name) =>
        response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(name + "=", StringComparison.Ordinal));

    private static bool IsSecure(string setCookie) =>
        setCookie.Split(';').Any(a => a.Trim().Equals("secure", StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    /// <summary>The server as a proxy at <paramref name="proxy"/> reaches it (the test server gives no remote address).</summary>
    private sealed class ProxiedFactory(IPAddress proxy) : BatonFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new RemoteAddress(proxy)));
        }
    }

    private sealed class RemoteAddress(IPAddress address) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, rest) =>
            {
                context.Connection.RemoteIpAddress = address;
                return rest(context);
            });
            next(app);
        };
    }
}
