using System.Net;
using Baton.Client;
using Baton.Dashboard;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Baton.Tests.Auth;

/// <summary>A dashboard session ends a fixed time after sign-in, however busy its browser, on a manual clock.</summary>
public sealed class SessionLifetimeTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly BatonFactory _factory;

    public SessionLifetimeTests() => _factory = new BatonFactory(_clock);

    [Fact]
    public async Task A_session_used_every_hour_still_ends_twelve_hours_after_sign_in_and_its_copied_cookie_with_it()
    {
        var key = await _factory.Client().CreateKeyAsync(new CreateKeyRequest("busy", "viewer"));
        using var browser = new Browser(_factory);
        var signedIn = await browser.SignInAsync(key.Token);
        var copied = signedIn.Cookies.Single(c => c.StartsWith(DashboardAuth.CookieName + "=", StringComparison.Ordinal)).Split(';')[0];
        for (var hour = 1; hour < 12; hour++)
        {
            _clock.Advance(TimeSpan.FromHours(1));
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).Status);
        }

        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).Status);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var ended = await browser.GetAsync("/");

        Assert.Equal(HttpStatusCode.Redirect, ended.Status);
        Assert.StartsWith("/signin", new Uri(new Uri("http://localhost"), ended.Location).PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await ReplayAsync(copied)).StatusCode);
        // The key is still good: signing in again starts a new session.
        Assert.Equal(HttpStatusCode.Redirect, (await browser.SignInAsync(key.Token)).Status);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).Status);
    }

    [Fact]
    public async Task BATON_SESSION_TTL_sets_the_session_lifetime()
    {
        _factory.Settings["BATON_SESSION_TTL"] = "30m";
        var key = await _factory.Client().CreateKeyAsync(new CreateKeyRequest("short", "viewer"));
        using var browser = new Browser(_factory);
        await browser.SignInAsync(key.Token);

        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).Status);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).Status);
    }

    [Fact]
    public async Task A_sessions_open_live_update_stream_ends_when_the_session_does()
    {
        var key = await _factory.Client().CreateKeyAsync(new CreateKeyRequest("watching", "viewer"));
        using var browser = new Browser(_factory);
        await browser.SignInAsync(key.Token);
        await browser.GetAsync("/");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ended = await browser.ReadEventStreamAsync(timeout.Token);

        _clock.Advance(TimeSpan.FromHours(12));

        await ended; // throws (timeout) if the stream outlives the session
        Assert.False(timeout.IsCancellationRequested);
    }

    private async Task<HttpResponseMessage> ReplayAsync(string cookie)
    {
        using var thief = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Cookie", cookie);
        return await thief.SendAsync(request);
    }

    public void Dispose() => _factory.Dispose();
}
