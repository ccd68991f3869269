namespace Baton.Dashboard;

public enum DiffOp
{
    Same,
    Added,
    Removed,
}

/// <summary>What a shown diff is made of: lines, and unchanged stretches folded away.</summary>
public abstract record DiffPiece;

/// <summary>One line of a diff with its number in the old and the new text (null on the side it is not in).</summary>
public sealed record DiffLine(DiffOp Op, string Text, int? OldNumber, int? NewNumber) : DiffPiece;

/// <summary>A run of unchanged lines folded away: how many, and the first old and new line numbers they cover.</summary>
public sealed record DiffGap(int Count, int OldNumber, int NewNumber) : DiffPiece;

/// <summary>The lines of a comparison, or why there are none (too large to compare here).</summary>
public sealed record LineDiffResult(IReadOnlyList<DiffLine> Lines, int Added, int Removed, string? TooLarge)
{
    public bool Identical => TooLarge is null && Added == 0 && Removed == 0;
}

/// <summary>
/// A Myers line diff (the shortest edit script), with the common start and end trimmed first. The work is capped:
/// texts over <see cref="MaxLines"/> lines together, or needing more than <see cref="MaxEdits"/> edits, are not compared,
/// so a huge artifact answers at once with a message instead of holding a worker.
/// </summary>
public static class LineDiff
{
    public const int MaxLines = 20_000;
    public const int MaxEdits = 2_000;

    public static string[] Lines(string text)
    {
        if (text.Length == 0)
        {
            return [];
        }
        var lines = text.Split('\n');
        var count = text.EndsWith('\n') ? lines.Length - 1 : lines.Length;
        return lines.Take(count).Select(l => l.EndsWith('\r') ? l[..^1] : l).ToArray();
    }

    public static LineDiffResult Compare(string from, string to, int maxLines = MaxLines, int maxEdits = MaxEdits) =>
        Compare(Lines(from), Lines(to), maxLines, maxEdits);

    public static LineDiffResult Compare(IReadOnlyList<string> from, IReadOnlyList<string> to, int maxLines = MaxLines, int maxEdits = MaxEdits)
    {
        var total = from.Count + to.Count;
        if (total > maxLines)
        {
            return new LineDiffResult([], 0, 0, $"too large to compare here ({total:N0} lines; the limit is {maxLines:N0})");
        }
        // Lines as numbers, so the inner loop compares ints, not strings.
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int Id(string line) => ids.TryGetValue(line, out var id) ? id : ids[line] = ids.Count;
        var a = from.Select(Id).ToArray();
        var b = to.Select(Id).ToArray();

        var prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix])
        {
            prefix++;
        }
        var suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[^(suffix + 1)] == b[^(suffix + 1)])
        {
            suffix++;
        }
        var middle = Myers(a.AsSpan(prefix, a.Length - prefix - suffix), b.AsSpan(prefix, b.Length - prefix - suffix), maxEdits);
        if (middle is null)
        {
            return new LineDiffResult([], 0, 0, $"too many changes to compare here (more than {maxEdits:N0} lines changed)");
        }

        var lines = new List<DiffLine>(prefix + middle.Count + suffix);
        int oldAt = 0, newAt = 0;
        void Same()
        {
            lines.Add(new DiffLine(DiffOp.Same, from[oldAt], oldAt + 1, newAt + 1));
            oldAt++;
            newAt++;
        }
        for (var i = 0; i < prefix; i++)
        {
            Same();
        }
        foreach (var op in middle)
        {
            switch (op)
            {
                case DiffOp.Same:
                    Same();
                    break;
                case DiffOp.Removed:
                    lines.Add(new DiffLine(DiffOp.Removed, from[oldAt], oldAt + 1, null));
                    oldAt++;
                    break;
                default:
                    lines.Add(new DiffLine(DiffOp.Added, to[newAt], null, newAt + 1));
                    newAt++;
                    break;
            }
        }
        for (var i = 0; i < suffix; i++)
        {
            Same();
        }
        return new LineDiffResult(lines, lines.Count(l => l.Op == DiffOp.Added), lines.Count(l => l.Op == DiffOp.Removed), null);
    }

    /// <summary>
    /// The edit script from a to b in order, or null when it needs more than maxEdits edits. Keeps the frontier of
    /// every round (O(D²) memory, bounded by the cap) to walk back from the end.
    /// </summary>
    private static List<DiffOp>? Myers(ReadOnlySpan<int> a, ReadOnlySpan<int> b, int maxEdits)
    {
        int n = a.Length, m = b.Length;
        var max = n + m;
        var offset = max + 1;
        var v = new int[2 * max + 3];
        var trace = new List<int[]>();
        var found = false;
        for (var d = 0; d <= Math.Min(max, maxEdits) && !found; d++)
        {
            // Keep k in [-d-1, d+1]: what round d reads.
            trace.Add(v.AsSpan(offset - d - 1, 2 * d + 3).ToArray());
            for (var k = -d; k <= d; k += 2)
            {
                var x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[x] == b[y])
                {
                    x++;
                    y++;
                }
                v[offset + k] = x;
                if (x >= n && y >= m)
                {
                    found = true;
                    break;
                }
            }
        }
        if (!found)
        {
            return null;
        }

        var ops = new List<DiffOp>(max);
        int cx = n, cy = m;
        for (var d = trace.Count - 1; d >= 0; d--)
        {
            var frontier = trace[d];
            int At(int k) => frontier[k + d + 1];
            var k = cx - cy;
            var prevK = k == -d || (k != d && At(k - 1) < At(k + 1)) ? k + 1 : k - 1;
            var prevX = At(prevK);
            var prevY = prevX - prevK;
            while (cx > prevX && cy > prevY)
            {
                ops.Add(DiffOp.Same);
                cx--;
                cy--;
            }
            if (d > 0)
            {
                ops.Add(cx == prevX ? DiffOp.Added : DiffOp.Removed);
            }
            cx = prevX;
            cy = prevY;
        }
        ops.Reverse();
        return ops;
    }

    /// <summary>
    /// The diff as shown: changed lines with <paramref name="context"/> unchanged lines around them; longer unchanged
    /// stretches become one <see cref="DiffGap"/>.
    /// </summary>
    public static IReadOnlyList<DiffPiece> Collapse(IReadOnlyList<DiffLine> lines, int context = 3)
    {
        var keep = new bool[lines.Count];
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Op == DiffOp.Same)
            {
                continue;
            }
            for (var j = Math.Max(0, i - context); j <= Math.Min(lines.Count - 1, i + context); j++)
            {
                keep[j] = true;
            }
        }
        var shown = new List<DiffPiece>();
        var at = 0;
        while (at < lines.Count)
        {
            if (keep[at])
            {
                shown.Add(lines[at++]);
                continue;
            }
            var start = at;
            while (at < lines.Count && !keep[at])
            {
                at++;
            }
            // Folding a single line saves nothing: show it.
            if (at - start == 1)
            {
                shown.Add(lines[start]);
            }
            else
            {
                shown.Add(new DiffGap(at - start, lines[start].OldNumber ?? 0, lines[start].NewNumber ?? 0));
            }
        }
        return shown;
    }
}
