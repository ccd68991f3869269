using System.Globalization;
using Baton.Profiles;

namespace Baton.Dashboard;

/// <summary>One phase as a box: where it is, and what the box says.</summary>
public sealed record PhaseBox(int X, int Y, int Width, int Height, string Name, string Worker, bool Gate, int Checks, string? Title);

/// <summary>A straight arrow from one phase to the next.</summary>
public sealed record ForwardArrow(int X1, int Y, int X2);

/// <summary>A curved arrow back to an earlier (or the same) phase: a gate's reject_to or a QA phase's retry_from.</summary>
public sealed record BackArrow(string From, string To, string Kind, string Path, int LabelX, int LabelY, string Label);

public sealed record PhaseDiagramLayout(int Width, int Height, IReadOnlyList<PhaseBox> Boxes, IReadOnlyList<ForwardArrow> Arrows,
    IReadOnlyList<BackArrow> BackArrows, string? Footnote, string Summary);

/// <summary>
/// Lays a profile's phases out left to right with arrows to the next phase and curves underneath for every way
/// back. Pure, so the geometry is tested without a browser; the page only draws what this returns.
/// </summary>
public static class PhaseDiagram
{
    public const int BoxWidth = 168;
    public const int BoxHeight = 78;
    public const int Gap = 44;
    public const int Margin = 12;
    private const int LoopDepth = 26;
    private const int LoopStep = 30;
    private const int SelfLoopHalfWidth = 22;
    private const int NameLength = 20;

    public static PhaseDiagramLayout Layout(Profile profile)
    {
        var phases = profile.Phases;
        var boxes = phases.Select((p, i) => new PhaseBox(
            Margin + i * (BoxWidth + Gap), Margin, BoxWidth, BoxHeight, Shorten(p.Name), Shorten(p.Worker), p.Gate is not null,
            p.Checks.Count + (p.Check?.Count ?? 0), p.Name.Length > NameLength || p.Worker.Length > NameLength ? $"{p.Name} ({p.Worker})" : null)).ToList();
        var arrows = boxes.Zip(boxes.Skip(1), (a, b) => new ForwardArrow(a.X + a.Width, a.Y + a.Height / 2, b.X)).ToList();

        // Every way back, shortest span first, so the short curves sit inside the long ones.
        var loops = new List<(int From, int To, string Kind)>();
        for (var i = 0; i < phases.Count; i++)
        {
            foreach (var target in phases[i].Gate?.RejectTo ?? [])
            {
                AddLoop(i, target, "reject");
            }
            if (phases[i].RetryFrom is { } retry)
            {
                AddLoop(i, retry, "retry");
            }
        }
        var ordered = loops.OrderBy(l => l.From - l.To).ThenBy(l => l.From).ToList();
        var bottom = Margin + BoxHeight;
        var back = ordered.Select((l, level) =>
        {
            var depth = LoopDepth + level * LoopStep;
            var from = boxes[l.From];
            var to = boxes[l.To];
            // Leave from the right part of the box and arrive at the left part, so a self-loop is a visible loop.
            var startX = from.X + from.Width / 2 + SelfLoopHalfWidth;
            var endX = to.X + to.Width / 2 - SelfLoopHalfWidth;
            var controlY = bottom + depth * 4 / 3;
            var path = FormattableString.Invariant($"M {startX} {bottom} C {startX} {controlY}, {endX} {controlY}, {endX} {bottom + 4}");
            // The midpoint of this cubic curve is three quarters of the way down to its control points.
            var labelY = bottom + depth + 12;
            var label = l.Kind == "reject" ? $"reject → {phases[l.To].Name}" : $"retry from {phases[l.To].Name}";
            return new BackArrow(phases[l.From].Name, phases[l.To].Name, l.Kind, path, (startX + endX) / 2, labelY, label);
        }).ToList();

        var lowest = back.Count == 0 ? bottom : back.Max(b => b.LabelY);
        var footnote = back.Count == 0 ? null : $"A run goes round these loops at most {profile.MaxIterations} times (max_iterations).";
        var height = lowest + (footnote is null ? Margin : 30);
        var width = Math.Max(Margin * 2 + phases.Count * BoxWidth + Math.Max(0, phases.Count - 1) * Gap, 320);
        return new PhaseDiagramLayout(width, height, boxes, arrows, back, footnote, Summary(profile));

        void AddLoop(int from, string target, string kind)
        {
            var to = profile.IndexOf(target);
            if (to >= 0 && to <= from)
            {
                loops.Add((from, to, kind));
            }
        }
    }

    /// <summary>The diagram in words, for its aria-label: each phase in order with its worker, gate, checks and loops.</summary>
    public static string Summary(Profile profile)
    {
        if (profile.Phases.Count == 0)
        {
            return $"Profile {profile.Name} has no phases.";
        }
        var parts = profile.Phases.Select(p =>
        {
            var notes = new List<string> { "worker " + p.Worker };
            var checks = p.Checks.Count + (p.Check?.Count ?? 0);
            if (checks > 0)
            {
                notes.Add(checks == 1 ? "1 check" : $"{checks} checks");
            }
            if (p.Gate is { } gate)
            {
                notes.Add(gate.RejectTo.Count == 0 ? "approval gate" : "approval gate, rejects back to " + string.Join(" or ", gate.RejectTo));
            }
            if (p.RetryFrom is { } retry)
            {
                notes.Add("on failure retries from " + retry);
            }
            return $"{p.Name} ({string.Join(", ", notes)})";
        });
        var loops = profile.Phases.Any(p => p.Gate is { RejectTo.Count: > 0 } || p.RetryFrom is not null)
            ? string.Create(CultureInfo.InvariantCulture, $" At most {profile.MaxIterations} iterations.")
            : "";
        return $"Phases of {profile.Name} in order: {string.Join(", then ", parts)}.{loops}";
    }

    private static string Shorten(string text) => text.Length > NameLength ? text[..(NameLength - 1)] + "…" : text;
}
