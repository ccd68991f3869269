namespace Baton.Cli.Tests.Commands;

/// <summary>A cost nobody knows (a Codex worker without prices, ADR 28) reads as unknown in the terminal, never as $0.</summary>
public sealed class CostTextTests
{
    [Theory]
    [InlineData(0.0125, false, "$0.0125")]
    [InlineData(0.0, false, "$0.00")]
    [InlineData(0.0, true, "unknown cost")]
    [InlineData(0.5, true, "$0.50 + unknown")]
    [InlineData(null, false, "unknown cost")]
    public void Costs_read_as_known_or_unknown(double? known, bool unknown, string expected) =>
        Assert.Equal(expected, RunView.Money((decimal?)known, unknown));
}
