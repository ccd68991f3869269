using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Baton;

/// <summary>
/// BATON_TRUSTED_PROXIES: the addresses (or CIDR ranges) of the reverse proxies whose X-Forwarded-Proto and
/// X-Forwarded-For are believed. Behind a TLS proxy the server sees plain HTTP; believing the proxy makes the
/// session and antiforgery cookies Secure, and gives the rate limiter the client's address. Anyone else's
/// forwarded headers are ignored: they could otherwise pose as another address. Default: this machine (loopback).
/// </summary>
public static class TrustedProxies
{
    public const string Setting = "BATON_TRUSTED_PROXIES";

    public static void Configure(ForwardedHeadersOptions options, string? setting)
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        if (string.IsNullOrWhiteSpace(setting))
        {
            options.KnownIPNetworks.Add(new System.Net.IPNetwork(IPAddress.Loopback, 8));
            options.KnownProxies.Add(IPAddress.IPv6Loopback);
            return;
        }
        foreach (var entry in setting.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry.Contains('/', StringComparison.Ordinal) && System.Net.IPNetwork.TryParse(entry, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
            else if (!entry.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(entry, out var address))
            {
                options.KnownProxies.Add(address);
            }
            else
            {
                throw new InvalidOperationException(
                    $"{Setting} lists IP addresses or CIDR ranges (10.0.0.5, 10.0.0.0/24, ::1), separated by commas; '{entry}' is neither");
            }
        }
    }
}
