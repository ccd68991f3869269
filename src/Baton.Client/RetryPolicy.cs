using System.Net;
using System.Net.Http.Headers;

namespace Baton.Client;

/// <summary>
/// How often <see cref="BatonClient"/> tries an idempotent request again: after a connection failure, a 5xx, or a
/// 429 (waiting as long as its Retry-After says, when that is at most <see cref="MaxDelay"/>). Requests that
/// change something are never repeated, except creating a run with an Idempotency-Key, which the server dedupes.
/// </summary>
/// <param name="MaxAttempts">Attempts in all, the first included; 1 turns retries off.</param>
/// <param name="BaseDelay">The wait before the second attempt; it doubles for each one after, with jitter.</param>
/// <param name="MaxDelay">The longest single wait; a Retry-After beyond it is answered at once with the 429.</param>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay)
{
    /// <summary>Three attempts, 0.25 s then 0.5 s apart: enough to ride out a server restart, short enough for a terminal.</summary>
    public static readonly RetryPolicy Default = new(3, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));

    public static readonly RetryPolicy None = new(1, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1, or null when the server asks for longer than <see cref="MaxDelay"/>.</summary>
    public TimeSpan? DelayAfter(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
        {
            return asked <= MaxDelay ? asked : null;
        }
        // Full jitter over the upper half: clients that failed together do not all come back at the same instant.
        var exponential = BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var capped = Math.Min(exponential, MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
        || ((int)status >= 500 && status is not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported);

    /// <summary>Failures where the request may never have reached the server, or its answer was cut off.</summary>
    public static bool IsTransient(HttpRequestException e) =>
        e.StatusCode is null && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded;

    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
        _ => null,
    };
}
