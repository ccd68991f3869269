using Baton.Profiles;

namespace Baton.Engine;

/// <summary>
/// A phase's validation: each artifact it produces exists and is not empty, and each check holds, on what the phase
/// produced or, for an artifact it does not produce, on that artifact's latest earlier version.
/// </summary>
public static class Checks
{
    /// <summary>The earlier artifacts the checks look at: those the phase checks but does not produce itself.</summary>
    public static IEnumerable<string> EarlierArtifactsChecked(PhaseDefinition phase) =>
        phase.Checks.Select(c => c.Artifact).Where(a => !phase.Produces.Contains(a)).Distinct(StringComparer.Ordinal);

    /// <summary>The failures, none when the phase passes. <paramref name="earlier"/> holds the latest content of <see cref="EarlierArtifactsChecked"/>, where there is one.</summary>
    public static IReadOnlyList<string> Evaluate(PhaseDefinition phase, IReadOnlyDictionary<string, string> produced, IReadOnlyDictionary<string, string> earlier)
    {
        var failures = new List<string>();
        foreach (var name in phase.Produces)
        {
            if (!produced.TryGetValue(name, out var content))
            {
                failures.Add($"{name} was not produced");
            }
            else if (string.IsNullOrWhiteSpace(content))
            {
                failures.Add($"{name} is empty");
            }
        }
        foreach (var check in phase.Checks)
        {
            if (!produced.TryGetValue(check.Artifact, out var content) && phase.Produces.Contains(check.Artifact))
            {
                // Reported above as not produced; an earlier version would not stand in for it.
                continue;
            }
            if (content is null && !earlier.TryGetValue(check.Artifact, out content))
            {
                failures.Add($"{check.Artifact} is missing");
            }
            else if (check.Contains is { } text && !content.Contains(text, StringComparison.Ordinal))
            {
                failures.Add($"{check.Artifact} does not contain \"{text}\"");
            }
        }
        return failures.Distinct().ToList();
    }
}
