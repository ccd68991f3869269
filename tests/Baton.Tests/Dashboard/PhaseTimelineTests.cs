using Baton.Client;
using Baton.Dashboard;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Tests.Dashboard;

public class PhaseTimelineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    private static PhaseInfo Phase(string name, int iteration, string status, int startMin, int? endMin, Approval? approval = null) =>
        new(name, status, iteration, 1, T0.AddMinutes(startMin), endMin is { } e ? T0.AddMinutes(e) : null,
            endMin is { } end ? (end - startMin) * 60_000L : null, null, null, null, approval);

    private static EventLog.EventRow Event(long seq, string type, string phase, int iteration, int atMin) =>
        new() { Seq = seq, RunId = "run_t", Type = type, Phase = phase, Iteration = iteration, CreatedAt = T0.AddMinutes(atMin).ToMs() };

    [Fact]
    public void Gate_events_pair_into_waits_per_phase_and_iteration()
    {
        var waits = PhaseTimeline.GateWaits(
        [
            Event(5, "gate.rejected", "draft", 1, 30),
            Event(3, "gate.opened", "draft", 1, 10),
            Event(9, "gate.opened", "draft", 2, 50),
            Event(7, "phase.started", "draft", 2, 31),
        ]);
        Assert.Equal(2, waits.Count);
        Assert.Equal(new GateWait("draft", 1, T0.AddMinutes(10), T0.AddMinutes(30), "rejected"), waits[0]);
        Assert.Equal(new GateWait("draft", 2, T0.AddMinutes(50), null, null), waits[1]);
    }

    [Fact]
    public void A_rejected_gate_shows_its_wait_and_the_phase_again_as_iteration_2()
    {
        var phases = new[]
        {
            Phase("draft", 1, "completed", 0, 30, new Approval("rejected", "ann", "more", T0.AddMinutes(30), null)),
            Phase("draft", 2, "awaiting_approval", 30, null),
        };
        var gates = new[]
        {
            new GateWait("draft", 1, T0.AddMinutes(10), T0.AddMinutes(30), "rejected"),
            new GateWait("draft", 2, T0.AddMinutes(35), null, null),
        };
        var layout = PhaseTimeline.Layout(phases, gates, now: T0.AddMinutes(40));

        Assert.Equal(["draft #1", "draft #2"], layout.Rows.Select(r => r.Label));
        var (first, second) = (layout.Rows[0], layout.Rows[1]);
        Assert.True(second.Work.Y > first.Work.Y);
        // 40 minutes across the plot: the first row starts at the left edge, its work ends where its wait begins.
        var plot = PhaseTimeline.Width - PhaseTimeline.LabelWidth - 12;
        Assert.Equal(PhaseTimeline.LabelWidth, first.Work.X);
        Assert.Equal(Math.Round(plot / 4, 1), first.Work.Width);
        Assert.Equal(first.Work.X + first.Work.Width, first.Wait!.X, 1);
        Assert.Equal("tl-wait tl-rejected", first.Wait.Class);
        Assert.Contains("waited 20m 0s at the gate, rejected", first.Wait.Title, StringComparison.Ordinal);
        // The open gate waits until now: the right edge of the plot.
        Assert.Equal("tl-wait tl-open", second.Wait!.Class);
        Assert.Equal(PhaseTimeline.LabelWidth + plot, second.Wait.X + second.Wait.Width, 1);
        Assert.Equal("Phase timeline: 2 phase executions over 40m 0s; 25m 0s waiting at gates; 1 rejection.", layout.Summary);
    }

    [Fact]
    public void A_running_phase_runs_to_now_and_phases_not_started_are_left_out()
    {
        var layout = PhaseTimeline.Layout(
            [Phase("one", 1, "completed", 0, 2), Phase("two", 1, "running", 2, null), new PhaseInfo("three", "pending", 1, 0, null, null, null, null, null, null, null)],
            [], now: T0.AddMinutes(10));
        Assert.Equal(2, layout.Rows.Count);
        var running = layout.Rows[1].Work;
        Assert.Equal("tl-work tl-running", running.Class);
        Assert.Equal(PhaseTimeline.Width - 12, running.X + running.Width, 1);
        Assert.Null(layout.Rows[1].Wait);
        Assert.Equal("0s", layout.Ticks[0].Text);
        Assert.Equal("+10m 0s", layout.Ticks[^1].Text);
    }

    [Fact]
    public void No_started_phase_means_no_rows()
    {
        var layout = PhaseTimeline.Layout([new PhaseInfo("one", "pending", 1, 0, null, null, null, null, null, null, null)], [], T0);
        Assert.Empty(layout.Rows);
        Assert.Equal("Phase timeline: no phase has started yet.", layout.Summary);
    }

    [Fact]
    public void A_tiny_bar_is_still_visible()
    {
        var layout = PhaseTimeline.Layout([Phase("one", 1, "completed", 0, 60), new PhaseInfo("two", "completed", 1, 1, T0.AddMinutes(60), T0.AddMinutes(60), 0, null, null, null, null)], [], T0.AddMinutes(60));
        Assert.Equal(2, layout.Rows[1].Work.Width);
    }

    [Fact]
    public void Bar_charts_scale_to_the_largest_value()
    {
        var layout = BarChart.Layout([new BarChartItem("a", 10, "$10"), new BarChartItem("b", 5, "$5"), new BarChartItem("c", 0, "$0")]);
        var plot = layout.Bars[0].Width;
        Assert.Equal(plot / 2, layout.Bars[1].Width, 1);
        Assert.Equal(1, layout.Bars[2].Width);
        Assert.Equal("b: $5", layout.Bars[1].Title);
        Assert.Equal(layout.Bars[0].Y + BarChart.RowHeight, layout.Bars[1].Y);
        Assert.Equal(1, BarChart.Layout([new BarChartItem("a", 0, "0")]).Bars[0].Width);
    }
}
