using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Engine;

/// <summary>A worker's concurrency limit holds when many executions are due at once, on a node with more engine workers than that.</summary>
public sealed class WorkerConcurrencyTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new() { Settings = { ["BATON_WORKERS"] = "4" } };
    private readonly BatonClient _client;

    public WorkerConcurrencyTests() => _client = _factory.Client();

    [Fact]
    public async Task A_worker_with_concurrency_1_and_five_executions_due_at_once_never_runs_two_at_the_same_time()
    {
        var worker = await _client.CreateWorkerAsync(new CreateWorkerRequest("single", "command", [_repo.ScriptPath("record-span.sh")], Concurrency: 1));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Spans", "Record spans", repo.RepositoryId));
        var holder = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "hold"))).ExecutionId;
        var holderDir = Path.Combine(_factory.WorkDir, "executions", holder);
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(holderDir, "started")), "the holder started");

        var queued = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            queued.Add((await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, $"go {i}"))).ExecutionId);
        }
        foreach (var id in queued)
        {
            Assert.Equal("pending", (await _client.GetExecutionAsync(id)).Status);
        }
        // The slot frees: all five are due at once, and every idle engine worker wakes for them.
        File.WriteAllText(Path.Combine(holderDir, "go"), "");

        var all = new List<string> { holder };
        all.AddRange(queued);
        foreach (var id in all)
        {
            Assert.Equal("success", (await _client.WaitForExecutionEndAsync(id, _factory.Service<EngineSignals>())).Status);
        }
        var spans = all.Select(id => (Id: id, Started: Stamp(id, "started"), Ended: Stamp(id, "ended"))).OrderBy(s => s.Started).ToList();
        for (var i = 1; i < spans.Count; i++)
        {
            Assert.True(spans[i].Started >= spans[i - 1].Ended,
                $"{spans[i].Id} started {(spans[i - 1].Ended - spans[i].Started) / 1_000_000} ms before {spans[i - 1].Id} ended");
        }
    }

    private long Stamp(string executionId, string name) =>
        long.Parse(File.ReadAllText(Path.Combine(_factory.WorkDir, "executions", executionId, name)).Trim(), System.Globalization.CultureInfo.InvariantCulture);


    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}

/// <summary>A job that keeps failing with an engine error (not an agent failure) ends its execution when it gives up.</summary>
public sealed class JobAttemptsTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero));
    private readonly BatonFactory _factory;
    private readonly BatonClient _client;

    public JobAttemptsTests()
    {
        _factory = new BatonFactory(_clock);
        _client = _factory.Client();
    }

    [Fact]
    public async Task A_standalone_job_that_uses_up_its_attempts_ends_its_execution_as_error()
    {
        var worker = await _client.CreateWorkerAsync(new CreateWorkerRequest("broken", "command", [_repo.ScriptPath("implement.sh")], Concurrency: 1));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Break", "Break", repo.RepositoryId));
        var db = _factory.Service<Database>();
        // A stored definition the engine cannot read: every attempt to start the execution fails inside the engine.
        await db.WriteAsync((c, tx) => c.ExecuteAsync("UPDATE workers SET config = '\"not a worker definition\"' WHERE id = @WorkerId", worker, tx));
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;

        // Each attempt backs off a little longer; moving the clock a minute at a time lets every retry come due.
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (await AttemptsAsync(db, id) is not null)
            {
                _clock.Advance(TimeSpan.FromMinutes(1));
                await Task.Delay(20, limit.Token);
            }
        }

        Assert.Null(await AttemptsAsync(db, id));
        var execution = await _client.GetExecutionAsync(id);
        Assert.Equal("error", execution.Status);
        Assert.StartsWith("engine error: ", execution.ErrorMessage, StringComparison.Ordinal);
        Assert.NotNull(execution.CompletedAt);
        // Its end is an event like any other status change: created, then failed with the reason (it never started).
        var changes = new List<(string Type, string? Error)>();
        await foreach (var e in _client.StreamExecutionEventsAsync(id))
        {
            if (e.Type != "log")
            {
                changes.Add((e.Type, e.Data?.GetProperty("error_message").GetString()));
            }
        }
        Assert.Equal([("execution.created", null), ("execution.failed", execution.ErrorMessage)], changes);
    }

    /// <summary>The attempts of the execution's job, or null once the job is gone.</summary>
    private static Task<long?> AttemptsAsync(Database db, string executionId) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<long?>("SELECT attempts FROM jobs WHERE execution_id = @executionId", new { executionId }));

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
