namespace Baton.Cli.Tests.Support;

public static class Assertions
{
    /// <summary>The command failed the documented way: this exit code, exactly one line on stderr, nothing on stdout.</summary>
    public static string FailsWithOneLine(this BatonResult result, int exitCode)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit {exitCode}, got {result.ExitCode}\nstdout: {result.Stdout}\nstderr: {result.Stderr}");
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
        return line;
    }

    public static BatonResult Succeeds(this BatonResult result)
    {
        Assert.True(result.ExitCode == 0, $"expected exit 0, got {result.ExitCode}\nstdout: {result.Stdout}\nstderr: {result.Stderr}");
        Assert.Equal("", result.Stderr);
        return result;
    }

    public static BatonResult ExitsWith(this BatonResult result, int exitCode)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit {exitCode}, got {result.ExitCode}\nstdout: {result.Stdout}\nstderr: {result.Stderr}");
        return result;
    }
}
