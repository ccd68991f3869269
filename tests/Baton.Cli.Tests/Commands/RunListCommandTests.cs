using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton run list` where no server is needed to tell what is wrong.</summary>
public sealed class RunListCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_unreachable_server_exits_1_with_one_line()
    {
        var url = $"http://127.0.0.1:{BatonProcess.FreePort()}";

        var result = await BatonProcess.RunAsync(_dir.Path, null, "run", "list", "--url", url);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"error: cannot reach Baton at {url}: is `baton up` running?", line);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("--limit", "ten", "--limit must be a whole number, not 'ten'")]
    [InlineData("--url", "localhost:7070", "--url must be an http:// or https:// URL")]
    [InlineData("--bogus", "1", "Unrecognized command or argument '--bogus'")]
    public async Task Usage_mistakes_exit_2_before_any_request(string option, string value, string message)
    {
        var result = await BatonProcess.RunAsync(_dir.Path, null, "run", "list", option, value);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, line, StringComparison.Ordinal);
    }
}
