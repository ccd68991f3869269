namespace Baton.Dashboard;

/// <summary>One bar of a chart: the label in front, the value as text behind it.</summary>
public sealed record BarChartItem(string Label, double Value, string Text);

public sealed record BarChartBar(string Label, string Text, double Y, double Width, double TextX, double TextY, string Title);

public sealed record BarChartLayout(double Width, double Height, IReadOnlyList<BarChartBar> Bars);

/// <summary>A horizontal bar chart's layout: bars scaled to the largest value, so the charts need no inline styles.</summary>
public static class BarChart
{
    public const double Width = 520;
    public const double LabelWidth = 130;
    public const double BarHeight = 16;
    public const double RowHeight = 24;
    private const double TextSpace = 90;

    public static BarChartLayout Layout(IReadOnlyList<BarChartItem> items)
    {
        var largest = items.Count == 0 ? 0 : items.Max(i => i.Value);
        var plot = Width - LabelWidth - TextSpace;
        var bars = items.Select((item, i) =>
        {
            // A zero still gets a sliver, so every phase visibly has a bar.
            var width = largest <= 0 ? 1 : Math.Max(1, Math.Round(item.Value / largest * plot, 1));
            var y = 4 + i * RowHeight;
            return new BarChartBar(item.Label, item.Text, y, width, LabelWidth + width + 6, y + BarHeight - 4, $"{item.Label}: {item.Text}");
        }).ToList();
        return new BarChartLayout(Width, 8 + items.Count * RowHeight, bars);
    }
}
