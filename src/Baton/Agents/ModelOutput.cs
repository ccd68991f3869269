using System.Text;
using System.Text.RegularExpressions;

namespace Baton.Agents;

/// <summary>Turns a model's text into artifacts and a summary; the model writes several files as marked sections.</summary>
internal static partial class ModelOutput
{
    public const int SummaryLength = 500;

    public static string MarkerFor(string name) => $"=== FILE: {name} ===";

    /// <summary>What the model is told when one answer must carry several files.</summary>
    public static string SectionInstruction(IReadOnlyList<string> produces)
    {
        var text = new StringBuilder();
        text.Append("Your answer must contain these files: ").AppendJoin(", ", produces).AppendLine(".");
        text.AppendLine("Write each file as its own section: a line of its own with the marker, then the file's full content. For example:");
        foreach (var name in produces)
        {
            text.AppendLine(MarkerFor(name)).AppendLine("(content of " + name + ")");
        }
        text.Append("Use exactly these markers and names, and write nothing after the last file's content.");
        return text.ToString();
    }

    /// <summary>
    /// Splits a response into the sections named by <paramref name="produces"/>. Sections for names the phase does not
    /// produce are dropped (a model must not choose file names the engine writes to); a name missing from the response
    /// is simply absent, so the phase's checks report it. Returns the text before the first marker as the preamble.
    /// </summary>
    public static (IReadOnlyList<ProducedArtifact> Artifacts, string Preamble, IReadOnlyList<string> Ignored) Split(
        string text, IReadOnlyList<string> produces)
    {
        var wanted = new HashSet<string>(produces, StringComparer.Ordinal);
        var sections = new Dictionary<string, string>(StringComparer.Ordinal);
        var ignored = new List<string>();
        var markers = Marker().Matches(text);
        var preamble = markers.Count == 0 ? text : text[..markers[0].Index];
        for (var i = 0; i < markers.Count; i++)
        {
            var name = markers[i].Groups["name"].Value.Trim();
            var start = markers[i].Index + markers[i].Length;
            var end = i + 1 < markers.Count ? markers[i + 1].Index : text.Length;
            if (!wanted.Contains(name))
            {
                ignored.Add(name);
                continue;
            }
            // A repeated marker means the model rewrote the file; its last version is the one it meant.
            sections[name] = Tidy(text[start..end]);
        }
        var artifacts = produces.Where(sections.ContainsKey).Select(n => new ProducedArtifact(n, sections[n])).ToList();
        return (artifacts, preamble.Trim(), ignored);
    }

    public static string Summarize(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length <= SummaryLength)
        {
            return trimmed;
        }
        // Cut at a word boundary when one is near, so the summary does not end mid-word.
        var cut = trimmed.LastIndexOfAny([' ', '\n', '\t'], SummaryLength);
        return trimmed[..(cut > SummaryLength / 2 ? cut : SummaryLength)].TrimEnd() + "…";
    }

    /// <summary>A section's content without the blank lines around it, ending with one newline as files do.</summary>
    private static string Tidy(string section)
    {
        var content = section.Trim('\r', '\n');
        return content.Trim().Length == 0 ? "" : content.TrimEnd() + "\n";
    }

    [GeneratedRegex(@"^[ \t]*=== FILE:[ \t]*(?<name>[^\r\n]+?)[ \t]*===[ \t]*\r?$", RegexOptions.Multiline)]
    private static partial Regex Marker();
}

/// <summary>
/// Cuts streamed text into lines as it arrives, so a live log shows them before the response ends. A line that grows
/// past <see cref="MaxPending"/> is shown in pieces: each piece is redacted first, and the last characters, where a
/// secret cut in two could begin (<see cref="Ops.Redactor.MaxLength"/>), stay for the next piece.
/// </summary>
internal sealed class LineSplitter(Func<string, Task> emit, Ops.Redactor redactor)
{
    // A model can write a long paragraph with no newline; past this many characters it is shown anyway.
    private const int MaxPending = 4000;

    private readonly StringBuilder _pending = new();

    public async Task PushAsync(string chunk)
    {
        foreach (var ch in chunk)
        {
            if (ch == '\n')
            {
                await EmitAsync();
            }
            else
            {
                _pending.Append(ch);
                if (_pending.Length >= MaxPending)
                {
                    await EmitPieceAsync();
                }
            }
        }
    }

    public Task FlushAsync() => EmitAsync();

    private Task EmitAsync()
    {
        var line = _pending.ToString().TrimEnd('\r');
        _pending.Clear();
        // Blank lines carry nothing in a log and markdown has many of them.
        return line.Trim().Length == 0 ? Task.CompletedTask : emit(line);
    }

    private Task EmitPieceAsync()
    {
        var text = redactor.Redact(_pending.ToString());
        // (A secret longer than half a piece, were there one, could still be cut: the pieces must move on.)
        var held = Math.Min(Math.Clamp(redactor.MaxLength - 1, 0, MaxPending / 2), text.Length);
        _pending.Clear().Append(text, text.Length - held, held);
        var piece = text[..^held];
        return piece.Trim().Length == 0 ? Task.CompletedTask : emit(piece);
    }
}
