using System.Globalization;
using System.Text.RegularExpressions;

namespace Baton.Dashboard;

public enum PatchLineKind
{
    /// <summary>Text outside any file's diff (a commit message, a mail header).</summary>
    Text,

    /// <summary>`diff --git`, `index`, mode and rename lines, `---` and `+++`.</summary>
    FileHeader,

    /// <summary>`@@ -a,b +c,d @@`.</summary>
    HunkHeader,
    Added,
    Removed,
    Context,

    /// <summary>`\ No newline at end of file`.</summary>
    Note,
}

public readonly record struct PatchLine(PatchLineKind Kind, string Text);

/// <summary>
/// Classifies the lines of a unified diff for colouring. Inside a hunk it counts the lines the `@@` header announced,
/// so a removed line that begins with `--` is not taken for a file header.
/// </summary>
public static partial class PatchLines
{
    public static IReadOnlyList<PatchLine> Classify(string patch)
    {
        var result = new List<PatchLine>();
        int oldLeft = 0, newLeft = 0;
        foreach (var line in LineDiff.Lines(patch))
        {
            if (oldLeft > 0 || newLeft > 0)
            {
                var kind = line.Length == 0 ? PatchLineKind.Context : line[0] switch
                {
                    '+' => PatchLineKind.Added,
                    '-' => PatchLineKind.Removed,
                    ' ' => PatchLineKind.Context,
                    '\\' => PatchLineKind.Note,
                    _ => (PatchLineKind?)null,
                };
                if (kind is { } k)
                {
                    oldLeft -= k is PatchLineKind.Removed or PatchLineKind.Context ? 1 : 0;
                    newLeft -= k is PatchLineKind.Added or PatchLineKind.Context ? 1 : 0;
                    result.Add(new PatchLine(k, line));
                    continue;
                }
                // The hunk was shorter than announced: read on as headers and text.
                oldLeft = newLeft = 0;
            }
            var hunk = HunkPattern().Match(line);
            if (hunk.Success)
            {
                oldLeft = Count(hunk.Groups["old"]);
                newLeft = Count(hunk.Groups["new"]);
                result.Add(new PatchLine(PatchLineKind.HunkHeader, line));
                continue;
            }
            var header = FileHeaderPattern().IsMatch(line);
            result.Add(new PatchLine(header ? PatchLineKind.FileHeader : line.StartsWith('\\') ? PatchLineKind.Note : PatchLineKind.Text, line));
        }
        return result;
    }

    /// <summary>Whether text is a diff even without a .patch name: a git diff, or a `---`/`+++`/`@@` file header.</summary>
    public static bool LooksLikeDiff(string text)
    {
        if (text.StartsWith("diff --git ", StringComparison.Ordinal) || text.Contains("\ndiff --git ", StringComparison.Ordinal))
        {
            return true;
        }
        var lines = LineDiff.Lines(text.Length > 64 * 1024 ? text[..(64 * 1024)] : text);
        for (var i = 0; i + 2 < lines.Length; i++)
        {
            if (lines[i].StartsWith("--- ", StringComparison.Ordinal) && lines[i + 1].StartsWith("+++ ", StringComparison.Ordinal) && HunkPattern().IsMatch(lines[i + 2]))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The CSS class of a kind of line.</summary>
    public static string ClassOf(PatchLineKind kind) => kind switch
    {
        PatchLineKind.FileHeader => "patch-file",
        PatchLineKind.HunkHeader => "patch-hunk",
        PatchLineKind.Added => "patch-add",
        PatchLineKind.Removed => "patch-del",
        PatchLineKind.Context => "patch-context",
        PatchLineKind.Note => "patch-note",
        _ => "patch-text",
    };

    private static int Count(Group group) =>
        !group.Success ? 1 : int.TryParse(group.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;

    [GeneratedRegex(@"^@@ -\d+(?:,(?<old>\d+))? \+\d+(?:,(?<new>\d+))? @@")]
    private static partial Regex HunkPattern();

    [GeneratedRegex(@"^(?:diff |index |--- |\+\+\+ |new file mode |deleted file mode |old mode |new mode |similarity index |dissimilarity index |rename from |rename to |copy from |copy to |Binary files )")]
    private static partial Regex FileHeaderPattern();
}
