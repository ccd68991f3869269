namespace Baton.Storage;

/// <summary>Times are stored as unix milliseconds and shown as UTC ISO-8601.</summary>
public static class Times
{
    public static long ToMs(this DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? FromMs(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;
}
