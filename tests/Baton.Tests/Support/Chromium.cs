using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Support;

/// <summary>Debian's Chromium for the browser tests (CI installs it with apt; BATON_CHROMIUM points elsewhere). Never `playwright install`.</summary>
public static class Chromium
{
    public static readonly string ExecutablePath = Environment.GetEnvironmentVariable("BATON_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Headless in a container, and nothing that reaches out to the network on its own.</summary>
    public static readonly string[] Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

    public static void AssertInstalled() => Assert.True(File.Exists(ExecutablePath),
        $"Chromium is not installed at {ExecutablePath}: the browser test needs it (apt-get install -y chromium, or set BATON_CHROMIUM). Never `playwright install`.");
}

/// <summary>The real server on a real loopback port, for a browser to reach (the in-memory test server has no port).</summary>
public sealed class KestrelBatonFactory : BatonFactory
{
    public KestrelBatonFactory(FakeTimeProvider? clock = null, IDictionary<string, string>? profiles = null)
        : base(clock, profiles: profiles)
    {
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>Starts the server and returns its address (http://127.0.0.1:PORT).</summary>
    public Uri Start()
    {
        StartServer();
        return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
    }
}
