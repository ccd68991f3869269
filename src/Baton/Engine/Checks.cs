using Baton.Profiles;

namespace Baton.Engine;

/// <summary>A phase's validation: each artifact it produces exists and is not empty, and each check holds.</summary>
public static class Checks
{
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
            if (!produced.TryGetValue(check.Artifact, out var content) && !earlier.TryGetValue(check.Artifact, out content))
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
