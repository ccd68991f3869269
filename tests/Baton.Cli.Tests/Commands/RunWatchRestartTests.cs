using System.Diagnostics;
using System.Text;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>Runs survive a server crash and restart, so `baton run watch` does too: it picks up after the last event it saw.</summary>
public sealed class RunWatchRestartTests
{
    [Fact]
    public async Task A_watch_outlives_a_server_crash_and_restart_and_sees_the_run_complete()
    {
        using var dir = new TempDir();
        var profiles = Directory.CreateDirectory(Path.Combine(dir.Path, "data", "profiles")).FullName;
        // An external phase keeps the run going until someone reports it done, however long the restart takes.
        await File.WriteAllTextAsync(Path.Combine(profiles, "outside.yaml"), "name: outside\nphases:\n  - name: build\n    worker: external\n");
        var first = await BatonServer.StartAsync("up", dir.Path);
        var token = (await File.ReadAllTextAsync(Path.Combine(first.DataDir, "admin.token"))).Trim();
        using var admin = BatonClient.Create(new Uri(first.Url + "/"), token).Http;
        var client = new BatonClient(admin);
        var run = await client.CreateRunAsync(new CreateRunRequest("outside", "x"));

        var output = new StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watch = new Process { StartInfo = BatonProcess.StartInfo(dir.Path, new Dictionary<string, string> { ["BATON_URL"] = first.Url, ["BATON_TOKEN"] = token }, "run", "watch", run.RunId) };
        watch.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data?.Contains("build", StringComparison.Ordinal) == true)
            {
                seen.TrySetResult();
            }
        };
        watch.Start();
        watch.BeginOutputReadLine();
        try
        {
            await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // Killed, not stopped: a crash is the harder case (and a graceful stop waits out open event streams).
            await first.DisposeAsync();
            await using var second = await BatonServer.StartAsync("up", dir.Path, url: first.Url);

            await client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "completed"));

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await watch.WaitForExitAsync(timeout.Token);
            Assert.True(watch.ExitCode == 0, $"exit {watch.ExitCode}: {output}");
            Assert.EndsWith($"Run {run.RunId} completed.", output.ToString().TrimEnd(), StringComparison.Ordinal);
            // Resumed after the last event seen: nothing printed twice.
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(output.ToString(), "build +started"));
        }
        finally
        {
            BatonProcess.Kill(watch);
        }
    }
}
