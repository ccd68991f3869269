using System.Diagnostics;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task The_demo_implements_the_change_in_a_real_repository_and_its_real_tests_pass()
    {
        var url = $"http://127.0.0.1:{BatonProcess.FreePort()}";
        var demo = Path.Combine(_dir.Path, "demo");
        var result = await BatonProcess.RunAsync(_dir.Path, null, "demo", "--dir", demo, "--urls", url, "--exit");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("check exited with code 0 (3/3 tests passed)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Done: 3/3 tests passed; 5 phases", result.Stdout, StringComparison.Ordinal);

        var repository = Path.Combine(demo, "textutil");
        var branch = Git(repository, "branch", "--list", "baton/*", "--format=%(refname:short)").Trim();
        Assert.StartsWith("baton/run_", branch, StringComparison.Ordinal);
        Assert.Equal(5, Git(repository, "log", "--format=%s", $"main..{branch}").Trim().Split('\n').Length);
        Assert.Contains("return \"-\".join", Git(repository, "show", $"{branch}:textutil.py"), StringComparison.Ordinal);
        Assert.Contains("NotImplementedError", File.ReadAllText(Path.Combine(repository, "textutil.py")), StringComparison.Ordinal);
    }

    private static string Git(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }

    public void Dispose() => _dir.Dispose();
}
