using Baton.Agents;

namespace Baton.Tests.Agents;

/// <summary>What a check printed is the agent's to write: counts read from it must stay sane whatever it says.</summary>
public sealed class TestSummaryTests
{
    [Theory]
    [InlineData("Passed!  - Failed:     1, Passed:     2, Skipped:     0, Total:     3", 3, 2)]
    [InlineData("Tests:       1 failed, 4 passed, 5 total", 5, 4)]
    [InlineData("Ran 3 tests in 0.001s\n\nFAILED (failures=1, errors=1)", 3, 1)]
    [InlineData("# pass 7\n# fail 0", 7, 7)]
    [InlineData("===== 2 passed, 1 failed in 0.1s =====", 3, 2)]
    public void Reads_the_common_summaries(string output, int total, int passed)
    {
        Assert.Equal((total, passed), TestSummary.Parse(output));
    }

    [Theory]
    [InlineData("99999999999 passed")]
    [InlineData("Tests:       99999999999999999999 failed, 5 total")]
    [InlineData("# pass 2147483647\n# pass 2147483647")]
    [InlineData("Ran 2147483647 tests in 1s\nRan 2147483647 tests in 1s")]
    public void Counts_too_large_for_a_number_are_capped_not_an_exception(string output)
    {
        var (total, passed) = TestSummary.Parse(output)!.Value;

        Assert.InRange(passed, 0, total);
        Assert.InRange(total, 1, int.MaxValue);
    }

    [Theory]
    [InlineData("Ran 1 test in 0.001s\n\nFAILED (failures=5)", 5, 0)]
    [InlineData("Ran 0 tests in 0.000s\n\nFAILED (errors=2)", 2, 0)]
    public void More_failures_than_tests_run_never_make_a_negative_count(string output, int total, int passed)
    {
        Assert.Equal((total, passed), TestSummary.Parse(output));
    }
}
