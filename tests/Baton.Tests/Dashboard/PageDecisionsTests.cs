using Baton.Dashboard;

namespace Baton.Tests.Dashboard;

/// <summary>The small pure decisions of the executions and keys pages.</summary>
public class PageDecisionsTests
{
    [Theory]
    [InlineData("command", "success", null, 0)]
    [InlineData("command", "error", "fail.sh exited with code 3: about to fail", 3)]
    [InlineData("command", "error", "run.sh exited with code -1", -1)]
    [InlineData("command", "error", "timed out after 10m", null)]
    [InlineData("command", "cancelled", "cancelled", null)]
    [InlineData("command", "running", null, null)]
    [InlineData("openai", "success", null, null)]
    [InlineData("template", "success", null, null)]
    [InlineData("command", "error", "x exited with code 99999999999", null)]
    public void The_exit_code_is_what_the_execution_recorded(string kind, string status, string? error, int? expected) =>
        Assert.Equal(expected, AgentPages.ExitCode(kind, status, error));

    [Theory]
    [InlineData(null, null, 50, 0, 0)]
    [InlineData("", "", 50, 0, 0)]
    [InlineData("1", "0", 1, 0, 0)]
    [InlineData("200", "1000000", 200, 1000000, 0)]
    [InlineData("0", null, 50, 0, 1)]
    [InlineData("201", null, 50, 0, 1)]
    [InlineData("+5", "1e3", 50, 0, 2)]
    [InlineData(" 5", "-1", 50, 0, 2)]
    [InlineData(null, "1000001", 50, 0, 1)]
    public void Paging_values_out_of_range_are_noted_and_replaced(string? limit, string? offset, int take, int skip, int notes)
    {
        var paging = Paging.Parse(limit, offset);
        Assert.Equal((take, skip, notes), (paging.Limit, paging.Offset, paging.Notes.Count));
    }

    [Theory]
    [InlineData("2030-01-31", "2030-01-31T00:00:00.0000000+00:00")]
    [InlineData("2030-02-30", null)]
    [InlineData("31/01/2030", null)]
    [InlineData("2030-1-31", null)]
    [InlineData("2030-01-31T10:00", null)]
    public void An_expiry_is_a_day_from_midnight_utc(string text, string? expected) =>
        Assert.Equal(expected, KeyPages.ParseExpiry(text)?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
}
