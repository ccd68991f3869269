using System.Globalization;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Dashboard;

/// <summary>A gate's wait for a person: from when it opened (the phase's work was done) until it was decided or expired.</summary>
public sealed record GateWait(string Phase, int Iteration, DateTimeOffset OpenedAt, DateTimeOffset? DecidedAt, string? Outcome);

/// <summary>A rectangle of the timeline, in the SVG's own units; <see cref="Class"/> says what it is (work or waiting).</summary>
public sealed record TimelineRect(double X, double Y, double Width, double Height, string Class, string Title);

/// <summary>One phase execution (phase × iteration): its label, its working time and, after a gate, its waiting time.</summary>
public sealed record TimelineRow(string Label, double LabelY, TimelineRect Work, TimelineRect? Wait);

public sealed record TimelineTick(double X, string Text);

public sealed record TimelineLayout(double Width, double Height, double AxisY, IReadOnlyList<TimelineRow> Rows, IReadOnlyList<TimelineTick> Ticks, string Summary);

/// <summary>
/// Lays out a run's phase timeline: time runs left to right from the first phase's start; each phase execution is a
/// row, so a rejection shows as the same phase again with the next iteration below it.
/// </summary>
public static class PhaseTimeline
{
    public const double Width = 800;
    public const double LabelWidth = 150;
    public const double RowHeight = 26;
    public const double BarHeight = 16;
    private const double RightPad = 12;
    private const double AxisSpace = 24;
    private const int TickCount = 4;

    /// <summary>Pairs each gate.opened event with the decision (approved, rejected, expired) that closed it; events in order.</summary>
    public static IReadOnlyList<GateWait> GateWaits(IEnumerable<EventLog.EventRow> events)
    {
        var waits = new List<GateWait>();
        foreach (var e in events.OrderBy(e => e.Seq))
        {
            if (e.Phase is null || e.Iteration is not { } iteration)
            {
                continue;
            }
            var at = Times.FromMs(e.CreatedAt);
            if (e.Type == "gate.opened")
            {
                waits.Add(new GateWait(e.Phase, iteration, at, null, null));
                continue;
            }
            var outcome = e.Type switch
            {
                "gate.approved" => "approved",
                "gate.rejected" => "rejected",
                "gate.expired" => "expired",
                _ => null,
            };
            var open = waits.FindLastIndex(w => w.Phase == e.Phase && w.Iteration == iteration && w.DecidedAt is null);
            if (outcome is not null && open >= 0)
            {
                waits[open] = waits[open] with { DecidedAt = at, Outcome = outcome };
            }
        }
        return waits;
    }

    /// <param name="phases">The run's phases; those not started yet are left out.</param>
    /// <param name="gates">When gates waited for a person.</param>
    /// <param name="now">Where open-ended bars (a running phase, an open gate) end: now, or when a finished run ended.</param>
    public static TimelineLayout Layout(IReadOnlyList<PhaseInfo> phases, IReadOnlyList<GateWait> gates, DateTimeOffset now)
    {
        var executions = phases
            .Where(p => p.StartedAt is not null)
            .OrderBy(p => p.StartedAt).ThenBy(p => p.Iteration)
            .Select(p =>
            {
                var start = p.StartedAt!.Value;
                var end = Later(start, p.CompletedAt ?? now);
                var gate = gates.LastOrDefault(g => g.Phase == p.Name && g.Iteration == p.Iteration);
                var wait = gate is null ? ((DateTimeOffset, DateTimeOffset)?)null
                    : (Later(start, gate.OpenedAt), Later(gate.OpenedAt, gate.DecidedAt ?? (p.CompletedAt ?? now)));
                return (Phase: p, Start: start, WorkEnd: wait?.Item1 ?? end, Wait: wait, Gate: gate);
            })
            .ToList();
        if (executions.Count == 0)
        {
            return new TimelineLayout(Width, 0, 0, [], [], "Phase timeline: no phase has started yet.");
        }
        var origin = executions.Min(x => x.Start);
        var finish = executions.Max(x => Later(x.WorkEnd, x.Wait?.Item2 ?? x.WorkEnd));
        var span = Later(origin + TimeSpan.FromSeconds(1), finish) - origin;
        var plot = Width - LabelWidth - RightPad;
        double X(DateTimeOffset at) => LabelWidth + Math.Round((at - origin) / span * plot, 1);
        // A bar of a few milliseconds would be invisible: every bar is at least 2 units wide.
        double W(DateTimeOffset from, DateTimeOffset to) => Math.Max(2, Math.Round((to - from) / span * plot, 1));

        var rows = executions.Select((x, i) =>
        {
            var p = x.Phase;
            var y = 4 + i * RowHeight;
            var name = $"{p.Name} #{p.Iteration}";
            var work = new TimelineRect(X(x.Start), y, W(x.Start, x.WorkEnd), BarHeight, $"tl-work tl-{p.Status}",
                $"{name}: {(x.Gate is null ? p.Status.Replace('_', ' ') : "worked")} for {DashboardPages.Duration(x.WorkEnd - x.Start)}, {Clock(x.Start)}–{Clock(x.WorkEnd)} UTC");
            TimelineRect? wait = x.Wait is { } w
                ? new TimelineRect(X(w.Item1), y, W(w.Item1, w.Item2), BarHeight, x.Gate!.Outcome switch
                {
                    null => "tl-wait tl-open",
                    "rejected" => "tl-wait tl-rejected",
                    _ => "tl-wait",
                }, $"{name}: {(x.Gate.Outcome is null ? "waiting" : "waited")} {DashboardPages.Duration(w.Item2 - w.Item1)} at the gate{(x.Gate.Outcome is { } o ? ", " + o : " for a decision")}")
                : null;
            return new TimelineRow(name, y + BarHeight - 4, work, wait);
        }).ToList();
        var axisY = 4 + rows.Count * RowHeight + 14;
        var ticks = Enumerable.Range(0, TickCount + 1)
            .Select(k => new TimelineTick(LabelWidth + Math.Round(plot * k / TickCount, 1), k == 0 ? "0s" : "+" + DashboardPages.Duration(span * k / TickCount)))
            .ToList();
        var waited = executions.Where(x => x.Wait is not null).Aggregate(TimeSpan.Zero, (sum, x) => sum + (x.Wait!.Value.Item2 - x.Wait.Value.Item1));
        var rejections = executions.Count(x => x.Gate?.Outcome == "rejected");
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"Phase timeline: {rows.Count} phase execution{(rows.Count == 1 ? "" : "s")} over {DashboardPages.Duration(span)}; {DashboardPages.Duration(waited)} waiting at gates; {rejections} rejection{(rejections == 1 ? "" : "s")}.");
        return new TimelineLayout(Width, axisY + AxisSpace - 14, axisY, rows, ticks, summary);
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a >= b ? a : b;

    private static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
}
