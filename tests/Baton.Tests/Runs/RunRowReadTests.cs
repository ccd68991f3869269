using System.Text.Json;
using Baton.Runs;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Runs;

/// <summary>
/// A run's row is read by hand, column by column in the order of <see cref="RunRow.Columns"/>
/// (<see cref="RunRow.Read"/>): it must read what Dapper's mapping by name reads, on either database.
/// </summary>
public sealed class RunRowReadTests : IDisposable
{
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("baton-runrow-");

    [Fact]
    public async Task A_row_with_every_column_set_reads_as_Dapper_reads_it()
    {
        await using var db = TestDatabase.Open(_dataDir.FullName);
        await db.MigrateAsync(TimeProvider.System);
        var row = new
        {
            id = "run_every_column", profile = "p", profile_hash = "h", project_name = "proj", status = "awaiting_approval", mode = "auto",
            current_phase = "design", iteration = 3, wait_reason = "gate", error = "e", budget_usd = 12.5, budget_approved = true,
            cost_usd = 1.25, tokens_used = 5_000_000_000L, request_hash = "rh", created_by = "key_1", created_at = 1_700_000_000_001L,
            updated_at = 1_700_000_000_002L, completed_at = 1_700_000_000_003L, version = 7L, iteration_base = 2, resume_phase = "impl",
            resume_feedback = "again", repository_id = "repo_1", cost_unknown = true, trace_parent = "00-abc-def-01",
            parent_run_id = "run_parent", forked_at_phase = "design", fork_commit = "abc123",
        };
        // Straight into the table, its references not there: the foreign keys are switched off on this connection.
        await using (var c = await TestDatabase.ConnectAsync(_dataDir.FullName, writable: true))
        {
            await c.ExecuteAsync(TestDatabase.IsPostgres ? "SET session_replication_role = replica" : "PRAGMA foreign_keys = OFF");
            await c.ExecuteAsync(
                $"INSERT INTO runs ({RunRow.Columns}) VALUES ({string.Join(", ", RunRow.Columns.Split(", ").Select(n => "@" + n))})", row);
        }

        var (byName, byHand, none) = await db.ReadAsync(async c => (
            await c.QuerySingleAsync<RunRow>($"SELECT {RunRow.Columns} FROM runs WHERE id = @id", new { row.id }),
            await RunStore.LoadAsync(c, null, row.id),
            await RunStore.LoadAsync(c, null, "run_missing")));

        Assert.NotNull(byHand);
        Assert.Equal(JsonSerializer.Serialize(byName), JsonSerializer.Serialize(byHand));
        Assert.Equal(5_000_000_000L, byHand.TokensUsed);
        Assert.Equal("abc123", byHand.ForkCommit);
        Assert.Null(none);
    }

    public void Dispose()
    {
        TestDatabase.Drop(_dataDir.FullName);
        _dataDir.Delete(recursive: true);
    }
}
