using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Engine;

/// <summary>
/// A job's lease while a real agent works, on a manual clock: the lease is renewed for as long as the work runs, and
/// a lease that cannot be renewed stops the work.
/// </summary>
public sealed class ExecutionLeaseTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero));
    private readonly BatonFactory _factory;
    private readonly BatonClient _client;

    public ExecutionLeaseTests()
    {
        _factory = new BatonFactory(_clock);
        _client = _factory.Client();
    }

    private static TimeSpan RenewEvery => JobQueue.LeaseDuration / 3;

    /// <summary>A standalone execution of talk-then-wait.sh, once its agent process runs.</summary>
    private async Task<string> StartWaitingAgentAsync()
    {
        var worker = await _client.CreateWorkerAsync(new CreateWorkerRequest("waiter", "command", [_repo.ScriptPath("talk-then-wait.sh")]));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Wait", "Wait until told", repo.RepositoryId));
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "wait"))).ExecutionId;
        await UntilAsync(() => Task.FromResult(AgentProcesses.Of(id).Count > 0), "the agent never started");
        return id;
    }

    private Task<(string? Token, long? ExpiresAt)> LeaseOfAsync(string executionId) =>
        _factory.Service<Database>().ReadAsync(c => c.QuerySingleOrDefaultAsync<(string? Token, long? ExpiresAt)>(
            "SELECT lease_token, lease_expires_at FROM jobs WHERE execution_id = @executionId", new { executionId }));

    private async Task<string> StatusOfAsync(string executionId) => (await _client.GetExecutionAsync(executionId)).Status;

    /// <summary>Waits (polling, bounded) for something a test cannot be told of by an event; false when it never came.</summary>
    private static async Task<bool> UntilAsync(Func<Task<bool>> condition, string? failure = null)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (limit.IsCancellationRequested)
            {
                return failure is null ? false : throw new Xunit.Sdk.XunitException(failure);
            }
            await Task.Delay(20, CancellationToken.None);
        }
        return true;
    }

    [Fact]
    public async Task A_standalone_execution_outlives_several_lease_periods_and_succeeds()
    {
        var id = await StartWaitingAgentAsync();

        // Four lease periods, a renewal interval at a time; each step waits until the renewal has landed.
        for (var step = 0; step < 12; step++)
        {
            _clock.Advance(RenewEvery);
            var renewedUntil = (_clock.GetUtcNow() + JobQueue.LeaseDuration).ToMs();
            await UntilAsync(async () => (await LeaseOfAsync(id)).ExpiresAt == renewedUntil || await StatusOfAsync(id) != "running");
        }
        Assert.Equal("running", await StatusOfAsync(id));
        File.WriteAllText(Path.Combine(_factory.WorkDir, "executions", id, "go"), "");

        var done = await WaitForEndAsync(id);
        Assert.Equal(("success", (string?)null), (done.Status, done.ErrorMessage));
        Assert.Contains("second line", done.Output.Logs);
    }

    [Fact]
    public async Task A_lease_that_cannot_be_renewed_stops_the_agent_and_its_worker_writes_nothing_more()
    {
        var id = await StartWaitingAgentAsync();
        var agent = AgentProcesses.Of(id);
        // Another node holds the job now (as after a long stall): this node's next renewal fails.
        await _factory.Service<Database>().WriteAsync((c, tx) => c.ExecuteAsync(
            "UPDATE jobs SET lease_token = 'another-node', lease_expires_at = @until WHERE execution_id = @id",
            new { id, until = (_clock.GetUtcNow() + TimeSpan.FromHours(1)).ToMs() }, tx));

        _clock.Advance(RenewEvery);
        var stopped = await UntilAsync(() => Task.FromResult(!agent.Any(AgentProcesses.IsAlive)));
        Assert.True(stopped, $"the agent still runs: {string.Join(' ', agent.Where(AgentProcesses.IsAlive))}");
        Assert.Equal("running", await StatusOfAsync(id));
        Assert.Equal(("another-node", (long?)(_clock.GetUtcNow() - RenewEvery + TimeSpan.FromHours(1)).ToMs()), await LeaseOfAsync(id));
    }

    private async Task<ExecutionInfo> WaitForEndAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var signals = _factory.Service<EngineSignals>();
        while (true)
        {
            var wake = signals.Events.Current;
            var execution = await _client.GetExecutionAsync(id, timeout.Token);
            if (execution.Status is "success" or "error" or "cancelled")
            {
                return execution;
            }
            await wake.WaitAsync(timeout.Token);
        }
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
