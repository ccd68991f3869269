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
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero));
    private readonly BatonFactory _factory;
    private readonly BatonClient _client;

    public ExecutionLeaseTests()
    {
        _factory = new BatonFactory(_clock);
        _client = _factory.Client();
    }

    private static TimeSpan RenewEvery => JobQueue.LeaseDuration / 3;

    /// <summary>A standalone execution of talk-then-wait.sh, once its agent has printed its first line.</summary>
    private async Task<string> StartWaitingAgentAsync()
    {
        var worker = await _client.CreateWorkerAsync(new CreateWorkerRequest("waiter", "command", [_repo.ScriptPath("talk-then-wait.sh")]));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Wait", "Wait until told", repo.RepositoryId));
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "wait"))).ExecutionId;
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(_factory.WorkDir, "executions", id, "talked")), "the agent never talked");
        return id;
    }

    private Task<(string? Token, long? ExpiresAt)> LeaseOfAsync(string executionId) =>
        _factory.Service<Database>().ReadAsync(c => c.QuerySingleOrDefaultAsync<(string? Token, long? ExpiresAt)>(
            "SELECT lease_token, lease_expires_at FROM jobs WHERE execution_id = @executionId", new { executionId }));

    private async Task<string> StatusOfAsync(string executionId) => (await _client.GetExecutionAsync(executionId)).Status;

    [Fact]
    public async Task A_standalone_execution_outlives_several_lease_periods_and_succeeds()
    {
        var id = await StartWaitingAgentAsync();

        // Four lease periods, a renewal interval at a time; each step waits until the renewal has landed.
        for (var step = 0; step < 12; step++)
        {
            _clock.Advance(RenewEvery);
            var renewedUntil = (_clock.GetUtcNow() + JobQueue.LeaseDuration).ToMs();
            await Eventually.HoldsAsync(async () => (await LeaseOfAsync(id)).ExpiresAt == renewedUntil || await StatusOfAsync(id) != "running");
        }
        Assert.Equal("running", await StatusOfAsync(id));
        File.WriteAllText(Path.Combine(_factory.WorkDir, "executions", id, "go"), "");

        var done = await _client.WaitForExecutionEndAsync(id, _factory.Service<EngineSignals>());
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
        var stopped = await Eventually.HoldsAsync(() => !agent.Any(AgentProcesses.IsAlive));
        Assert.True(stopped, $"the agent still runs: {string.Join(' ', agent.Where(AgentProcesses.IsAlive))}");
        await Eventually.TrueAsync(() => !_factory.Service<RunningExecutions>().IsRunning(id), "the work never ended");
        var execution = await _client.GetExecutionAsync(id);
        Assert.Equal("running", execution.Status);
        // Printed while the lease was held but still buffered when it was lost: it does not land either.
        Assert.DoesNotContain("first line from the agent", execution.Output.Logs);
        Assert.Equal(("another-node", (long?)(_clock.GetUtcNow() - RenewEvery + TimeSpan.FromHours(1)).ToMs()), await LeaseOfAsync(id));
    }

    [Fact]
    public async Task A_phase_whose_lease_cannot_be_renewed_stops_its_agent_and_records_nothing()
    {
        await _client.CreateWorkerAsync(new CreateWorkerRequest("waiter", "command", [_repo.ScriptPath("talk-then-wait.sh")]));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "waiting.yaml"), """
            name: waiting
            phases:
              - name: work
                worker: waiter
                max_attempts: 1
            """);
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("waiting", "wait", RepositoryId: repo.RepositoryId))).RunId;
        var executions = Path.Combine(_factory.WorkDir, "executions");
        await Eventually.TrueAsync(() => Directory.Exists(executions) && Directory.EnumerateFiles(executions, "talked", SearchOption.AllDirectories).Any(), "the agent never talked");
        var agent = AgentProcesses.Of(runId);
        await _factory.Service<Database>().WriteAsync((c, tx) => c.ExecuteAsync(
            "UPDATE jobs SET lease_token = 'another-node', lease_expires_at = @until WHERE run_id = @runId",
            new { runId, until = (_clock.GetUtcNow() + TimeSpan.FromHours(1)).ToMs() }, tx));

        _clock.Advance(RenewEvery);
        var stopped = await Eventually.HoldsAsync(() => !agent.Any(AgentProcesses.IsAlive));
        Assert.True(stopped, $"the agent still runs: {string.Join(' ', agent.Where(AgentProcesses.IsAlive))}");
        await Eventually.TrueAsync(() => !_factory.Service<RunningExecutions>().IsRunning(runId), "the work never ended");
        var run = await _client.GetRunAsync(runId);
        Assert.Equal(("running", "work", "running"), (run.Status, run.CurrentPhase, run.Phases[0].Status));
        var statuses = await _factory.Service<Database>().ReadAsync(c => c.QueryAsync<string>(
            "SELECT status FROM executions WHERE run_id = @runId", new { runId }));
        Assert.Equal(["running"], statuses);
        Assert.DoesNotContain((await _client.GetLogsAsync(runId)).Lines, l => l.Message == "first line from the agent");
    }

    [Fact]
    public async Task A_phase_taken_over_in_a_hand_off_keeps_its_lease_for_as_long_as_it_runs()
    {
        await _client.CreateWorkerAsync(new CreateWorkerRequest("waiter", "command", [_repo.ScriptPath("talk-then-wait.sh")]));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "handoff.yaml"), """
            name: handoff
            phases:
              - name: plan
                produces: [plan.md]
              - name: work
                worker: waiter
            """);
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("handoff", "wait", RepositoryId: repo.RepositoryId))).RunId;
        var executions = Path.Combine(_factory.WorkDir, "executions");
        await Eventually.TrueAsync(() => Directory.Exists(executions) && Directory.EnumerateFiles(executions, "talked", SearchOption.AllDirectories).Any(), "the agent never talked");
        var talked = Path.GetDirectoryName(Directory.EnumerateFiles(executions, "talked", SearchOption.AllDirectories).Single())!;

        // Plan's finish took work over on the same engine worker; work's lease is renewed all along.
        for (var step = 0; step < 12; step++)
        {
            _clock.Advance(RenewEvery);
            var renewedUntil = (_clock.GetUtcNow() + JobQueue.LeaseDuration).ToMs();
            await Eventually.TrueAsync(async () => await _factory.Service<Database>().ReadAsync(c => c.QuerySingleOrDefaultAsync<long?>(
                "SELECT lease_expires_at FROM jobs WHERE run_id = @runId AND phase = 'work'", new { runId })) == renewedUntil,
                $"the lease of work was not renewed at step {step}");
        }
        File.WriteAllText(Path.Combine(talked, "go"), "");
        var run = await _client.WaitForStatusAsync(runId, "completed");
        Assert.Equal([("plan", 1), ("work", 1)], run.Phases.Select(p => (p.Name, p.Attempts)));
    }

    [Fact]
    public async Task Renewals_failing_with_a_database_error_for_a_whole_lease_stop_the_agent()
    {
        var id = await StartWaitingAgentAsync();
        var agent = AgentProcesses.Of(id);
        // Every renewal of this job's lease fails in the database (a trigger aborts it, as a broken disk would).
        await InjectedFailure.StartAsync(_factory.Service<Database>(), "renewal_fails", "UPDATE OF lease_expires_at", "jobs", $"OLD.execution_id = '{id}'");

        // Two renewals fail within the lease; at the third tick it has run out without one landing.
        for (var tick = 0; tick < 3; tick++)
        {
            _clock.Advance(RenewEvery);
        }
        var stopped = await Eventually.HoldsAsync(() => !agent.Any(AgentProcesses.IsAlive));
        Assert.True(stopped, $"the agent still runs: {string.Join(' ', agent.Where(AgentProcesses.IsAlive))}");
        await Eventually.TrueAsync(() => !_factory.Service<RunningExecutions>().IsRunning(id), "the work never ended");
        Assert.Equal("running", await StatusOfAsync(id));
    }

    [Fact]
    public async Task A_renewal_stuck_behind_the_database_past_the_lease_stops_the_agent()
    {
        var id = await StartWaitingAgentAsync();
        var agent = AgentProcesses.Of(id);
        // A write that holds the database (as a stalled disk would; on PostgreSQL, the job's row): every renewal waits behind it.
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var db = _factory.Service<Database>();
        var stall = db.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync($"SELECT id FROM jobs WHERE execution_id = @id{db.Dialect.ForUpdate}", new { id }, tx);
            holding.SetResult();
            await release.Task;
        });
        await holding.Task;
        try
        {
            // The first renewal waits; the lease runs out at the third tick while it still does.
            for (var tick = 0; tick < 3; tick++)
            {
                _clock.Advance(RenewEvery);
            }
            var stopped = await Eventually.HoldsAsync(() => !agent.Any(AgentProcesses.IsAlive));
            Assert.True(stopped, $"the agent still runs: {string.Join(' ', agent.Where(AgentProcesses.IsAlive))}");
        }
        finally
        {
            release.SetResult();
            await stall;
        }
        await Eventually.TrueAsync(() => !_factory.Service<RunningExecutions>().IsRunning(id), "the work never ended");
        Assert.Equal("running", await StatusOfAsync(id));
    }

    [Theory]
    [InlineData(true, 0, true)]
    [InlineData(false, 20, false)]
    [InlineData(null, 1, true)]
    [InlineData(null, 0, false)]
    [InlineData(null, -5, false)]
    public void A_lease_is_still_held_after_a_renewal_or_while_it_runs(bool? renewed, int secondsLeft, bool held)
    {
        var now = _clock.GetUtcNow();
        Assert.Equal(held, LeaseKeeper.StillHeld(renewed, now + TimeSpan.FromSeconds(secondsLeft), now));
    }


    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
