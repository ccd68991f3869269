using Baton.Audit;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Audit;

/// <summary>The audit log's entries, many to a write: those queued while a write is in flight go together in the next.</summary>
public sealed class AuditWriterTests : IDisposable
{
    private readonly ApiFactory _factory = new();

    [Fact]
    public async Task Entries_of_requests_at_once_share_writes_and_each_has_committed_when_its_task_completes()
    {
        var (writer, db) = (_factory.Service<AuditWriter>(), _factory.Service<Database>());
        var before = await CountAsync(db);
        var writesBefore = db.Writes;

        var appended = Enumerable.Range(0, 50).Select(i => writer.AppendAsync(Entry($"/api/runs/run_{i}/approve"))).ToList();
        await Task.WhenAll(appended);

        Assert.Equal(before + 50, await CountAsync(db));
        // The first entry's write, then the 49 queued behind it in one or two more: not one write each.
        Assert.InRange(db.Writes - writesBefore, 2, 4);
    }

    [Fact]
    public async Task A_write_that_fails_faults_its_entries_and_the_next_ones_are_still_written()
    {
        var (writer, db) = (_factory.Service<AuditWriter>(), _factory.Service<Database>());
        var before = await CountAsync(db);

        // No method: the table refuses it. As the first entry it starts a write of its own; the next two queue behind it.
        var bad = writer.AppendAsync(new AuditRow { At = 1, Actor = "test", Method = null!, Route = "/api/runs", Path = "/api/runs", Status = 201 });
        var next = new[] { writer.AppendAsync(Entry("/api/runs/run_a/approve")), writer.AppendAsync(Entry("/api/runs/run_b/approve")) };

        var error = await Assert.ThrowsAnyAsync<Exception>(() => bad);
        Assert.True(db.Dialect.IsDatabaseError(error), error.ToString());
        await Task.WhenAll(next);
        Assert.Equal(before + 2, await CountAsync(db));
    }

    private static AuditRow Entry(string path) =>
        new() { At = 1, Actor = "test", Method = "POST", Route = "/api/runs/{id}/approve", Path = path, Status = 200 };

    private static Task<long> CountAsync(Database db) =>
        db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log"));

    public void Dispose() => _factory.Dispose();
}
