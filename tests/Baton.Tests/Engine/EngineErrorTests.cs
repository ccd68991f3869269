using System.Diagnostics;
using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Engine;

/// <summary>
/// Engine errors (a database error, not an agent failure) on a manual clock, injected for real: an SQLite trigger that
/// aborts one statement, so the transaction around it rolls back as it would on a full disk.
/// </summary>
public sealed class EngineErrorTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero));
    private readonly BatonFactory _factory;
    private readonly BatonClient _client;

    public EngineErrorTests()
    {
        _factory = new BatonFactory(_clock, profiles: new Dictionary<string, string>
        {
            ["straight"] = TestProfiles.Straight,
            ["single"] = """
                name: single
                phases:
                  - name: work
                    produces: [work.md]
                """,
        });
        _client = _factory.Client();
    }

    private Database Db => _factory.Service<Database>();

    private Task<InjectedFailure> FailAsync(string trigger, string table, string when) => InjectedFailure.StartAsync(Db, trigger, "INSERT", table, when);

    /// <summary>The run's phase job as it is now: its phase, attempts and whether a worker holds it.</summary>
    private Task<(string Phase, long Attempts, string? LeaseToken)?> JobOfAsync(string runId) =>
        Db.ReadAsync(c => c.QuerySingleOrDefaultAsync<(string Phase, long Attempts, string? LeaseToken)?>(
            "SELECT phase, attempts, lease_token FROM jobs WHERE run_id = @runId", new { runId }));

    /// <summary>Waits until the run's job waits for a retry (unleased) after this many attempts.</summary>
    private async Task WaitForRetryAsync(string runId, string phase, long attempts)
    {
        if (!await Eventually.HoldsAsync(async () => await JobOfAsync(runId) is { LeaseToken: null } job && job.Phase == phase && job.Attempts == attempts))
        {
            Assert.Fail($"the job of {phase} never waited for a retry after attempt {attempts}; it is {await JobOfAsync(runId)}");
        }
    }

    [Fact]
    public async Task A_database_error_after_a_phase_hand_off_is_charged_to_the_phase_running_then()
    {
        // Phase one finishes and hands over to two in its finish transaction; two's finish then fails, every time.
        await FailAsync("two_fails", "artifacts", "NEW.phase = 'two'");
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("straight", "hand over"))).RunId;

        // Two's job (not one's, deleted by the hand-off) waits for its retry, unleased, after a backoff.
        await WaitForRetryAsync(runId, "two", 1);
        // Every retry fails the same way until the attempts are used up; the last one fails the run.
        for (var attempt = 2; attempt <= EngineHost.MaxJobAttempts; attempt++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            if (attempt < EngineHost.MaxJobAttempts)
            {
                await WaitForRetryAsync(runId, "two", attempt);
            }
        }
        await _client.WaitForStatusAsync(runId, "failed");

        var run = await _client.GetRunAsync(runId);
        Assert.Equal(("failed", "two"), (run.Status, run.CurrentPhase));
        Assert.Contains("engine error: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("injected failure", run.Error, StringComparison.Ordinal);
        var executions = (await Db.ReadAsync(c => c.QueryAsync<(string Phase, string Status)>(
            "SELECT phase, status FROM executions WHERE run_id = @runId ORDER BY phase", new { runId }))).ToList();
        Assert.Equal([("one", "success"), .. Enumerable.Repeat(("two", "error"), EngineHost.MaxJobAttempts)], executions);
        Assert.Null(await JobOfAsync(runId));
    }

    [Fact]
    public async Task A_start_that_keeps_failing_still_counts_its_claims_and_ends_the_run()
    {
        // Claim and start share a transaction; the start rolls back to its own savepoint and the claim commits, so
        // each failed start is an attempt and the run ends, instead of the job being claimed again forever.
        await FailAsync("start_fails", "executions", "NEW.phase = 'work'");
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("single", "never starts"))).RunId;

        for (var attempt = 1; attempt < EngineHost.MaxJobAttempts; attempt++)
        {
            await WaitForRetryAsync(runId, "work", attempt);
            _clock.Advance(TimeSpan.FromMinutes(1));
        }
        var run = await _client.WaitForStatusAsync(runId, "failed");

        Assert.Contains("injected failure", run.Error, StringComparison.Ordinal);
        Assert.Null(await JobOfAsync(runId));
        Assert.Equal(0, await Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM executions WHERE run_id = @runId", new { runId })));
    }

    [Fact]
    public async Task A_finish_transaction_that_rolls_back_loses_no_log_lines()
    {
        // On the manual clock the log never flushes on its own: every line is still buffered when the phase finishes.
        var workFails = await FailAsync("work_fails", "artifacts", "NEW.phase = 'work'");
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("single", "log"))).RunId;
        await WaitForRetryAsync(runId, "work", 1);

        var logs = (await _client.GetLogsAsync(runId)).Lines.Select(l => l.Message).ToList();
        Assert.Contains(logs, l => l.StartsWith("rendered work.md", StringComparison.Ordinal));

        await workFails.HealAsync();
        _clock.Advance(PhaseExecutor.Backoff(1));
        await _client.WaitForStatusAsync(runId, "completed");
        logs = (await _client.GetLogsAsync(runId)).Lines.Select(l => l.Message).ToList();
        Assert.Equal(2, logs.Count(l => l.StartsWith("rendered work.md", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_orphaned_agent_is_stopped_only_once_the_start_transaction_commits()
    {
        // Every start of the phase fails at its last statement until healed.
        var startFails = await FailAsync("start_fails", "executions", "NEW.worker_kind = 'template'");
        var runId = (await _client.CreateRunAsync(new CreateRunRequest("single", "orphan"))).RunId;
        await WaitForRetryAsync(runId, "work", 1);

        // What a crashed server leaves: an execution still running, with the pid of its agent, which lives on.
        using var orphan = Process.Start(new ProcessStartInfo("setsid", ["sleep", "300"]) { Environment = { ["BATON_RUN_ID"] = runId } })!;
        await Db.WriteAsync((c, tx) => c.ExecuteAsync(
            """
            INSERT INTO executions(id, run_id, phase, iteration, worker, worker_kind, status, created_at, started_at, pid)
            VALUES ('exe-crashed', @runId, 'work', 1, 'agent', 'command', 'running', 0, 0, @pid)
            """, new { runId, pid = orphan.Id }, tx));

        _clock.Advance(PhaseExecutor.Backoff(1));
        await WaitForRetryAsync(runId, "work", 2);
        Assert.True(AgentProcesses.IsAlive(orphan.Id), "a start transaction that rolled back stopped the orphan");
        Assert.Equal("running", await Db.ReadAsync(c => c.QuerySingleAsync<string>("SELECT status FROM executions WHERE id = 'exe-crashed'")));

        await startFails.HealAsync();
        _clock.Advance(PhaseExecutor.Backoff(2));
        await _client.WaitForStatusAsync(runId, "completed");
        await Eventually.TrueAsync(() => !AgentProcesses.IsAlive(orphan.Id), "the orphan stopped");
        var lost = Assert.Single(await _client.EventsOfAsync(runId), e => e.Type == "execution.lost");
        Assert.True(lost.Data!.Value.GetProperty("orphan_stopped").GetBoolean());
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(4, 16)]
    [InlineData(EngineHost.MaxJobAttempts, null)]
    public void An_engine_error_retries_with_backoff_until_the_attempts_are_used_up(int attempts, int? secondsLater)
    {
        var now = _clock.GetUtcNow();
        Assert.Equal(secondsLater is { } s ? now + TimeSpan.FromSeconds(s) : null, EngineHost.RetryAfterError(attempts, now));
    }

    public void Dispose() => _factory.Dispose();
}
