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

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")] // Kestrel takes port 0 on an address only
    public async Task The_demo_beside_a_running_baton_up_listens_on_a_free_port_and_says_so(string host)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir.Path, "up")).FullName;
        await using var up = await BatonServer.StartAsync("up", folder);
        var demo = Path.Combine(_dir.Path, "demo");
        var port = new Uri(up.Url).Port;

        var result = await BatonProcess.RunAsync(_dir.Path, null, "demo", "--dir", demo, "--urls", $"http://{host}:{port}", "--exit");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var moved = System.Text.RegularExpressions.Regex.Match(result.Stdout, $@"{System.Text.RegularExpressions.Regex.Escape(host)}:{port} is in use \(is `baton up` running there\?\); the demo listens on (http://127\.0\.0\.1:(\d+)) instead");
        Assert.True(moved.Success, result.Stdout);
        Assert.NotEqual(port.ToString(System.Globalization.CultureInfo.InvariantCulture), moved.Groups[2].Value);
        Assert.Contains($"Baton is up at {moved.Groups[1].Value};", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"BATON_URL={moved.Groups[1].Value} ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Done: 3/3 tests passed; 5 phases", result.Stdout, StringComparison.Ordinal);
        // The running server was not touched: the demo's run is not among its runs.
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", File.ReadAllText(Path.Combine(up.DataDir, "admin.token")).Trim());
        Assert.Contains("\"runs\":[]", await http.GetStringAsync(new Uri(up.Url + "/api/runs")), StringComparison.Ordinal);
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
