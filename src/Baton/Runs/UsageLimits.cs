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

    public static UsageLimits From(IConfiguration config)
    {
        var defaults = new UsageLimits();
        return new()
        {
            MaxStreamsPerKey = (int)BatonOptions.WholeNumber(config, "BATON_MAX_STREAMS_PER_KEY", defaults.MaxStreamsPerKey, 1, 10_000),
            MaxStreams = (int)BatonOptions.WholeNumber(config, "BATON_MAX_STREAMS", defaults.MaxStreams, 1, 100_000),
            QuotaActiveRuns = (int)BatonOptions.WholeNumber(config, "BATON_QUOTA_ACTIVE_RUNS", defaults.QuotaActiveRuns, 0, int.MaxValue),
            QuotaStoredBytes = BatonOptions.WholeNumber(config, "BATON_QUOTA_STORED_BYTES", defaults.QuotaStoredBytes, 0, long.MaxValue),
        };
    }
}
