using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

public sealed class UpLifecycleTests
{
    [Fact]
    public async Task Stops_cleanly_on_a_signal_and_keeps_its_key_across_restarts()
    {
        using var dir = new TempDir();
        string firstKey;
        await using (var first = await BatonServer.StartAsync("up", dir.Path))
        {
            firstKey = await File.ReadAllTextAsync(Path.Combine(first.DataDir, "admin.token"));

            var exitCode = await first.StopAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(0, exitCode);
            Assert.EndsWith("Baton stopped.", first.Stdout.TrimEnd(), StringComparison.Ordinal);
            Assert.Equal("", first.Stderr);
        }

        // The data dir's lock was let go, and the same key still signs in.
        await using var second = await BatonServer.StartAsync("up", dir.Path);
        Assert.Equal(firstKey, await File.ReadAllTextAsync(Path.Combine(second.DataDir, "admin.token")));
        var list = await BatonProcess.RunAsync(dir.Path, new Dictionary<string, string> { ["BATON_TOKEN"] = firstKey.Trim() }, "run", "list", "--url", second.Url);
        Assert.Equal(0, list.ExitCode);
    }

    [Fact]
    public async Task A_second_up_on_the_same_data_dir_fails_with_one_line()
    {
        using var dir = new TempDir();
        await using var first = await BatonServer.StartAsync("up", dir.Path);

        var second = await BatonProcess.RunAsync(dir.Path, null, "up", "--urls", $"http://127.0.0.1:{BatonProcess.FreePort()}", "--data-dir", first.DataDir);

        Assert.Equal(ExitCodes.Failure, second.ExitCode);
        var line = Assert.Single(second.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("another Baton process is using", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", second.Stdout + second.Stderr, StringComparison.Ordinal);
    }
}
