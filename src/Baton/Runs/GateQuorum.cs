using Baton.Profiles;

namespace Baton.Runs;

/// <summary>
/// A gate's quorum with `require_groups` (ADR 39), as pure functions: `approvals` distinct keys, and among them at
/// least the required count from each group. One approval fills one group's place (a key in two groups is not two
/// approvers), so the approvals are matched to the groups' places, the best way round; a key in several groups goes
/// where it is needed.
/// </summary>
public static class GateQuorum
{
    /// <summary>The places of each required group that no approval fills under the best matching (none when met).</summary>
    public static IReadOnlyDictionary<string, int> MissingGroups(IReadOnlyDictionary<string, int> required, IReadOnlyList<IReadOnlyList<string>> approvals)
    {
        var places = required.SelectMany(r => Enumerable.Repeat(r.Key, r.Value)).ToList();
        var filledBy = Match(places, approvals);
        var missing = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var place = 0; place < places.Count; place++)
        {
            if (filledBy[place] < 0)
            {
                missing[places[place]] = missing.GetValueOrDefault(places[place]) + 1;
            }
        }
        return missing;
    }

    /// <summary>
    /// Why an approval by a key of <paramref name="groups"/> could not count toward the gate, or null when it can:
    /// with it, the approvals left to give must still be able to fill every group's missing places. Otherwise the
    /// key would take a place that only a group member may fill, and the gate could never open.
    /// </summary>
    public static string? WhyNotCounted(GateDefinition gate, IReadOnlyList<IReadOnlyList<string>> approvals, string keyName, IReadOnlyList<string> groups)
    {
        if (gate.RequiredGroups.Count == 0)
        {
            return null;
        }
        var left = gate.Approvals - approvals.Count - 1;
        var missing = MissingGroups(gate.RequiredGroups, [.. approvals, groups]);
        if (missing.Values.Sum() <= left)
        {
            return null;
        }
        var needed = MissingGroups(gate.RequiredGroups, approvals);
        var member = groups.Count == 0 ? "in no group" : "in " + string.Join(", ", groups);
        return $"the gate's {gate.Approvals - approvals.Count} remaining approval(s) must come from {Describe(needed)}; key '{keyName}' is {member}";
    }

    /// <summary>`group security (1 more), group legal (2 more)`.</summary>
    public static string Describe(IReadOnlyDictionary<string, int> missing) =>
        string.Join(", ", missing.Select(m => $"group {m.Key} ({m.Value} more)"));

    /// <summary>Bipartite matching of approvals to places (augmenting paths): for each place, the approval filling it or -1.</summary>
    private static int[] Match(IReadOnlyList<string> places, IReadOnlyList<IReadOnlyList<string>> approvals)
    {
        var filledBy = Enumerable.Repeat(-1, places.Count).ToArray();
        for (var approval = 0; approval < approvals.Count; approval++)
        {
            TryPlace(approval, new bool[places.Count]);
        }
        return filledBy;

        bool TryPlace(int approval, bool[] seen)
        {
            for (var place = 0; place < places.Count; place++)
            {
                if (seen[place] || !approvals[approval].Contains(places[place]))
                {
                    continue;
                }
                seen[place] = true;
                if (filledBy[place] < 0 || TryPlace(filledBy[place], seen))
                {
                    filledBy[place] = approval;
                    return true;
                }
            }
            return false;
        }
    }
}
