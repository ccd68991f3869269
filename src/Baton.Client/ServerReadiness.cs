using System.Diagnostics;
using System.Net;

namespace Baton.Client;

/// <summary>Waiting for a server that is starting: for scripts, tests and benchmarks that start one themselves.</summary>
public static class ServerReadiness
{
    /// <summary>
    /// Asks <c>GET /readyz</c> every 50 ms until it answers 200. <paramref name="exited"/> says, with what the server
    /// printed, that its process has ended (then waiting is pointless); a probe that times out on a busy machine is
    /// asked again until <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitAsync(Uri baseUrl, TimeSpan timeout, Func<string?> exited, CancellationToken ct = default)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (exited() is { } why)
            {
                throw new InvalidOperationException(why);
            }
            try
            {
                using var response = await http.GetAsync("readyz", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // Listening but not answering within the probe's 2 s: a busy machine; ask again until the deadline.
            }
            await Task.Delay(50, ct);
        }
        throw new TimeoutException($"the server at {baseUrl} did not become ready within {timeout}");
    }
}
