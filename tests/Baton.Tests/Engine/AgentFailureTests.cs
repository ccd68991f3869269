using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Engine;

public sealed class AgentFailureTests : IDisposable
{
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string>
    {
        ["timeouts"] = """
            name: timeouts
            phases:
              - name: stuck
                produces: [never.md]
                delay: 30s
                timeout: 200ms
                max_attempts: 2
            """,
    });

    [Fact]
    public async Task A_phase_that_times_out_is_retried_with_backoff_then_fails_the_run_with_the_reason()
    {
        var client = _factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("timeouts", "x"));
        var failed = await client.WaitForStatusAsync(run.RunId, "failed");
        Assert.Contains("timed out after 200ms", failed.Error, StringComparison.Ordinal);
        var phase = Assert.Single(failed.Phases);
        Assert.Equal(("failed", 2), (phase.Status, phase.Attempts));

        var executions = await _factory.Service<Database>().ReadAsync(c => c.QueryAsync<(string Status, string Error)>(
            "SELECT status, error_message FROM executions WHERE run_id = @RunId ORDER BY created_at", run));
        Assert.Equal([("error", "timed out after 200ms"), ("error", "timed out after 200ms")], executions);

        var events = await client.EventsUntilAsync(run.RunId, "run.failed");
        var retry = Assert.Single(events, e => e.Type == "phase.retry_scheduled");
        Assert.Equal(1, retry.Data!.Value.GetProperty("attempt").GetInt32());
        Assert.Contains(events, e => e.Type == "phase.failed");
        var logs = await client.GetLogsAsync(run.RunId);
        Assert.Contains(logs.Lines, l => l.Level == "error" && l.Message.Contains("attempt 2 failed", StringComparison.Ordinal));
    }

    public void Dispose() => _factory.Dispose();
}
