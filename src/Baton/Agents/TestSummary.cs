using System.Globalization;
using System.Text.RegularExpressions;

namespace Baton.Agents;

/// <summary>
/// Tests run and passed, read from what common test runners print at the end: dotnet test, pytest, Jest/Vitest,
/// Python unittest, node --test/TAP, and the plain "N passed, N failed" line. Several summaries (one per project) add up.
/// The output is the agent's to write, so the counts stay sane whatever it says: never negative, at most int.MaxValue.
/// </summary>
public static partial class TestSummary
{
    public static (int Run, int Passed)? Parse(string output)
    {
        long passed = 0, failed = 0;
        var found = false;
        foreach (var rawLine in output.Split('\n'))
        {
            var line = rawLine.Trim();
            if (DotnetTest().Match(line) is { Success: true } dotnet)
            {
                failed += Int(dotnet.Groups["failed"]);
                passed += Int(dotnet.Groups["passed"]);
                found = true;
            }
            else if (Jest().Match(line) is { Success: true } jest)
            {
                failed += Int(jest.Groups["failed"]);
                passed += Int(jest.Groups["passed"]);
                found = true;
            }
            else if (UnittestRan().Match(line) is { Success: true } ran)
            {
                passed += Int(ran.Groups["ran"]);
                found = true;
            }
            else if (UnittestFailed().Match(line) is { Success: true } bad)
            {
                // Failures and errors are among the tests "Ran" counted; more of them than that is still no negative count.
                var broken = Int(bad.Groups["failures"]) + Int(bad.Groups["errors"]);
                passed = Math.Max(0, passed - broken);
                failed += broken;
            }
            else if (Tap().Match(line) is { Success: true } tap)
            {
                if (tap.Groups["kind"].Value == "pass")
                {
                    passed += Int(tap.Groups["n"]);
                }
                else
                {
                    failed += Int(tap.Groups["n"]);
                }
                found = true;
            }
            else if (PassedFailed().Match(line) is { Success: true } plain)
            {
                passed += Int(plain.Groups["passed"]);
                failed += Int(plain.Groups["failed"]);
                found = true;
            }
        }
        if (!found)
        {
            return null;
        }
        var total = (int)Math.Min(passed + failed, int.MaxValue);
        return (total, (int)Math.Min(passed, total));
    }

    /// <summary>A count, capped at int.MaxValue (a sum of capped counts stays far inside a long).</summary>
    private static long Int(Group group) =>
        !group.Success ? 0 : long.TryParse(group.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? Math.Min(n, int.MaxValue) : int.MaxValue;

    [GeneratedRegex(@"^(?:Passed|Failed)!\s+-\s+Failed:\s+(?<failed>\d+),\s+Passed:\s+(?<passed>\d+)")]
    private static partial Regex DotnetTest();

    [GeneratedRegex(@"^Tests:\s+(?:(?<failed>\d+) failed,\s+)?(?:\d+ skipped,\s+)?(?:(?<passed>\d+) passed,\s+)?\d+ total")]
    private static partial Regex Jest();

    [GeneratedRegex(@"^Ran (?<ran>\d+) tests? in ")]
    private static partial Regex UnittestRan();

    [GeneratedRegex(@"^FAILED \((?:failures=(?<failures>\d+))?(?:,\s*)?(?:errors=(?<errors>\d+))?")]
    private static partial Regex UnittestFailed();

    [GeneratedRegex(@"^# (?<kind>pass|fail) (?<n>\d+)$")]
    private static partial Regex Tap();

    [GeneratedRegex(@"^(?:\w+:\s*)?=*\s*(?:(?<passed>\d+) passed)(?:,\s*(?<failed>\d+) failed)?|^(?:\w+:\s*)?=*\s*(?<failed>\d+) failed(?:,\s*(?<passed>\d+) passed)?")]
    private static partial Regex PassedFailed();
}
