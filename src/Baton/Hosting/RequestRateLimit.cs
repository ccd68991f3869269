using System.Collections.Concurrent;
using System.Security.Claims;

namespace Baton;

/// <summary>
/// BATON_RATE_LIMIT: a token bucket per caller (its API key, else its address) that holds twice the per-second rate
/// and refills from the clock when the caller comes back, not from a timer. ASP.NET Core's rate limiter keeps two
/// 100 ms timers ticking for as long as the process lives, busy or not; on an idle node they were most of its CPU (ADR 34).
/// </summary>
public sealed class RequestRateLimit(BatonOptions options, TimeProvider time)
{
    /// <summary>Past this many callers, buckets that have refilled (idle callers) are dropped, at most once a second.</summary>
    internal const int SweepAbove = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _lastSweep;

    /// <summary>Takes one request's token; false, with how long until one is back, when the caller has none left.</summary>
    public bool TryTake(HttpContext context, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        var perSecond = options.RateLimit;
        if (perSecond == 0)
        {
            return true;
        }
        var caller = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? context.Connection.RemoteIpAddress?.ToString() ?? "anonymous";
        var now = time.GetTimestamp();
        if (_buckets.Count > SweepAbove)
        {
            Sweep(now, perSecond);
        }
        var bucket = _buckets.GetOrAdd(caller, static (_, start) => new Bucket(start.Capacity, start.Now), (Capacity: 2.0 * perSecond, Now: now));
        return bucket.TryTake(now, perSecond, time, out retryAfter);
    }

    private void Sweep(long now, int perSecond)
    {
        var last = Interlocked.Read(ref _lastSweep);
        if (time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(1) || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }
        foreach (var (caller, bucket) in _buckets)
        {
            if (bucket.IsFull(now, perSecond, time))
            {
                _buckets.TryRemove(caller, out _);
            }
        }
    }

    private sealed class Bucket(double tokens, long refilledAt)
    {
        private readonly Lock _lock = new();
        private double _tokens = tokens;
        private long _refilledAt = refilledAt;

        public bool TryTake(long now, int perSecond, TimeProvider time, out TimeSpan retryAfter)
        {
            lock (_lock)
            {
                Refill(now, perSecond, time);
                if (_tokens >= 1)
                {
                    _tokens--;
                    retryAfter = TimeSpan.Zero;
                    return true;
                }
                retryAfter = TimeSpan.FromSeconds((1 - _tokens) / perSecond);
                return false;
            }
        }

        public bool IsFull(long now, int perSecond, TimeProvider time)
        {
            lock (_lock)
            {
                Refill(now, perSecond, time);
                return _tokens >= 2.0 * perSecond;
            }
        }

        private void Refill(long now, int perSecond, TimeProvider time)
        {
            if (now > _refilledAt)
            {
                _tokens = Math.Min(2.0 * perSecond, _tokens + time.GetElapsedTime(_refilledAt, now).TotalSeconds * perSecond);
                _refilledAt = now;
            }
        }
    }
}
