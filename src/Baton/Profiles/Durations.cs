using System.Globalization;
using System.Text.RegularExpressions;

namespace Baton.Profiles;

/// <summary>Durations as people write them in YAML: 1500ms, 30s, 5m, 2h, 7d.</summary>
public static partial class Durations
{
    /// <summary>The longest duration anything in a profile may say: a year.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(365);

    /// <summary>Timers (phase timeouts, delays) cannot run longer than about 49 days.</summary>
    public static readonly TimeSpan MaxTimer = TimeSpan.FromDays(49);

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success || !double.TryParse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
        {
            return false;
        }
        var ms = n * match.Groups[2].Value switch
        {
            "ms" => 1d,
            "s" => 1_000d,
            "m" => 60_000d,
            "h" => 3_600_000d,
            _ => 86_400_000d,
        };
        if (ms > Max.TotalMilliseconds)
        {
            return false;
        }
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    public static string Format(TimeSpan value) =>
        value.TotalDays >= 1 && value.TotalDays % 1 == 0 ? $"{value.TotalDays:0}d"
        : value.TotalHours >= 1 && value.TotalHours % 1 == 0 ? $"{value.TotalHours:0}h"
        : value.TotalMinutes >= 1 && value.TotalMinutes % 1 == 0 ? $"{value.TotalMinutes:0}m"
        : value.TotalSeconds >= 1 && value.TotalSeconds % 1 == 0 ? $"{value.TotalSeconds:0}s"
        : $"{value.TotalMilliseconds:0}ms";

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$")]
    private static partial Regex DurationPattern();
}
