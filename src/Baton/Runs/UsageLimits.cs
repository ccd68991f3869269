using System.Globalization;

namespace Baton.Runs;

/// <summary>
/// What one key, and the whole server, may hold at once: open event streams, active runs and stored bytes. Read from
/// BATON_* settings like <see cref="BatonOptions"/>; a quota of 0 is off.
/// </summary>
public sealed record UsageLimits
{
    /// <summary>BATON_MAX_STREAMS_PER_KEY: a dashboard tab holds one stream; eight leave room for a few tabs and a CLI.</summary>
    public int MaxStreamsPerKey { get; init; } = 8;

    /// <summary>BATON_MAX_STREAMS: every open stream holds a connection and wakes on every event.</summary>
    public int MaxStreams { get; init; } = 256;

    /// <summary>BATON_QUOTA_ACTIVE_RUNS: runs created by one key that are not yet completed, failed, cancelled or expired.</summary>
    public int QuotaActiveRuns { get; init; } = 1_000;

    /// <summary>BATON_QUOTA_STORED_BYTES: bytes of intakes (typed or uploaded) one key has stored, in total.</summary>
    public long QuotaStoredBytes { get; init; } = 10L * 1024 * 1024 * 1024;

    public static UsageLimits From(IConfiguration config) => new()
    {
        MaxStreamsPerKey = (int)Read(config, "BATON_MAX_STREAMS_PER_KEY", 8, 1, 10_000),
        MaxStreams = (int)Read(config, "BATON_MAX_STREAMS", 256, 1, 100_000),
        QuotaActiveRuns = (int)Read(config, "BATON_QUOTA_ACTIVE_RUNS", 1_000, 0, int.MaxValue),
        QuotaStoredBytes = Read(config, "BATON_QUOTA_STORED_BYTES", 10L * 1024 * 1024 * 1024, 0, long.MaxValue),
    };

    private static long Read(IConfiguration config, string name, long fallback, long min, long max)
    {
        if (config[name] is not { Length: > 0 } text)
        {
            return fallback;
        }
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"{name} must be a whole number from {min} to {max}, not '{text}'");
    }
}
