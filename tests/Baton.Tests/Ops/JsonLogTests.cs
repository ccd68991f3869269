using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Ops;

/// <summary>BATON_LOG_FORMAT=json on a real server process: every line a JSON object, a phase's logs in its run's scope.</summary>
public sealed class JsonLogTests : IDisposable
{
    private const string Token = "json-log-test-token-0123456789";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-jsonlog-").FullName;

    [Fact]
    public async Task Json_logs_are_one_object_a_line_and_a_phase_logs_with_its_run_and_execution_ids()
    {
        string runId;
        string output;
        using (var server = await ServerProcess.StartAsync(_dataDir, Token, new Dictionary<string, string>
        {
            ["BATON_LOG_FORMAT"] = "json",
            ["Logging__LogLevel__Baton.Engine.PhaseExecutor"] = "Debug",
        }))
        {
            var client = server.Client(Token);
            runId = (await client.CreateRunAsync(new CreateRunRequest("planning_rail", "log me"))).RunId;
            await client.WaitForStatusAsync(runId, "completed");
            output = server.Output;
        }

        var entries = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.All(entries, e => Assert.Equal(JsonValueKind.Object, e.ValueKind));
        Assert.Contains(entries, e => e.GetProperty("Category").GetString() == "Microsoft.Hosting.Lifetime");

        var ended = entries.Where(e => e.GetProperty("Category").GetString() == "Baton.Engine.PhaseExecutor").ToList();
        Assert.NotEmpty(ended);
        foreach (var entry in ended)
        {
            var scope = Assert.Single(entry.GetProperty("Scopes").EnumerateArray(), s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("run_id", out _));
            Assert.Equal(runId, scope.GetProperty("run_id").GetString());
            Assert.Equal(entry.GetProperty("State").GetProperty("ExecutionId").GetString(), scope.GetProperty("execution_id").GetString());
            Assert.StartsWith("exe", scope.GetProperty("execution_id").GetString(), StringComparison.Ordinal);
            Assert.Equal(entry.GetProperty("State").GetProperty("Phase").GetString(), scope.GetProperty("phase").GetString());
        }
    }

    public void Dispose()
    {
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}
