using Baton.Client;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Engine;

/// <summary>kill -9 of a real server process in the middle of a phase, twice, and the run still finishes right.</summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private const string Token = "crash-test-admin-token-0001";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-crash-").FullName;

    [Fact]
    public async Task A_killed_server_resumes_the_run_without_repeating_finished_phases()
    {
        Directory.CreateDirectory(Path.Combine(_dataDir, "profiles"));
        File.WriteAllText(Path.Combine(_dataDir, "profiles", "slow.yaml"), TestProfiles.Slow("1500ms"));

        string runId;
        using (var first = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = first.Client(Token);
            runId = (await client.CreateRunAsync(new CreateRunRequest("slow", "survive a crash"))).RunId;
            await WaitForExecutionAsync(client, runId, "second");
            first.KillHard();
        }

        using (var second = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = second.Client(Token);
            await WaitForExecutionAsync(client, runId, "third");
            second.KillHard();
        }

        using (var third = await ServerProcess.StartAsync(_dataDir, Token))
        {
            var client = third.Client(Token);
            var run = await client.WaitForStatusAsync(runId, "completed");
            Assert.Equal(["first", "second", "third"], run.Phases.Select(p => p.Name));
            Assert.All(run.Phases, p => Assert.Equal(("completed", 1), (p.Status, p.Iteration)));
            Assert.Equal(["first.md", "second.md", "third.md"], (await client.ListArtifactsAsync(runId)).Phases.SelectMany(p => p.Artifacts).Select(a => a.Name));
            third.KillHard();
        }

        SqliteConnection.ClearAllPools();
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "baton.db")};Mode=ReadOnly");
        var completions = (await db.QueryAsync<(string Phase, long Count)>(
            "SELECT phase, COUNT(*) FROM events WHERE run_id = @runId AND type = 'phase.completed' GROUP BY phase ORDER BY phase", new { runId })).ToList();
        Assert.Equal([("first", 1L), ("second", 1L), ("third", 1L)], completions);

        var executions = (await db.QueryAsync<(string Phase, string Status, string? Error)>(
            "SELECT phase, status, error_message FROM executions WHERE run_id = @runId ORDER BY created_at", new { runId })).ToList();
        Assert.Equal(
            [("first", "success", null), ("second", "error", "worker lost"), ("second", "success", null), ("third", "error", "worker lost"), ("third", "success", null)],
            executions);
        Assert.Equal(2, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events WHERE run_id = @runId AND type = 'execution.lost'", new { runId }));
        Assert.Equal(0, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE run_id = @runId", new { runId }));
    }

    /// <summary>Waits on the event stream until the phase's execution has started (and so is mid-flight).</summary>
    private static async Task WaitForExecutionAsync(BatonClient client, string runId, string phase)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            if (e.Type == "phase.started" && e.Phase == phase)
            {
                return;
            }
        }
        throw new Xunit.Sdk.XunitException($"phase {phase} never started");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }
}
