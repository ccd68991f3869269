using System.Text.Json;
using Baton.Runs;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Runs;

/// <summary>
/// A run's row is read by hand, column by column in the order of <see cref="RunRow.Columns"/>
/// (<see cref="RunRow.Read"/>), and so are its detail's phase runs and tool approvals: they must read what Dapper's
/// mapping by name reads, on either database.
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

    [Fact]
    public async Task A_detail_reads_phase_runs_and_tool_approvals_by_hand_as_Dapper_reads_them()
    {
        await using var db = TestDatabase.Open(_dataDir.FullName);
        await db.MigrateAsync(TimeProvider.System);
        var phaseRun = new
        {
            run_id = "run_detail", phase = "design", iteration = 2, position = 1, status = "completed", attempts = 3, feedback = "f", error = "e",
            started_at = 1_700_000_000_001L, completed_at = 1_700_000_000_002L, gate_status = "approved", gate_actor = "admin",
            gate_comment = "ok", gate_decided_at = 1_700_000_000_003L, gate_deadline = 1_700_000_000_004L, validation_skipped_by = "admin",
        };
        await using (var c = await TestDatabase.ConnectAsync(_dataDir.FullName, writable: true))
        {
            await c.ExecuteAsync(TestDatabase.IsPostgres ? "SET session_replication_role = replica" : "PRAGMA foreign_keys = OFF");
            var columns = "run_id, " + RunStore.PhaseRunRow.Columns;
            await c.ExecuteAsync($"INSERT INTO phase_runs ({columns}) VALUES ({string.Join(", ", columns.Split(", ").Select(n => "@" + n))})", phaseRun);
            await c.ExecuteAsync("INSERT INTO phase_runs (run_id, phase, iteration, position, status) VALUES ('run_detail', 'build', 2, 2, 'pending')");
            // One decided, one pending whose execution ended (it reads as expired), one with its optional columns NULL.
            await c.ExecuteAsync("""
                INSERT INTO executions (id, run_id, phase, iteration, worker, worker_kind, status, created_at, completed_at)
                VALUES ('exe_1', 'run_detail', 'design', 2, 'w', 'command', 'error', 1, 1700000000009);
                INSERT INTO tool_approvals (id, run_id, execution_id, phase, iteration, tool, input, tool_use_id, status, message, requested_at, decided_by, decided_at)
                VALUES ('ta_1', 'run_detail', 'exe_1', 'design', 2, 'Bash', '{"command":"ls"}', 'use_1', 'approved', 'fine', 1700000000005, 'admin', 1700000000006),
                       ('ta_2', 'run_detail', 'exe_1', 'design', 2, 'Edit', '{}', 'use_2', 'pending', NULL, 1700000000007, NULL, NULL),
                       ('ta_3', 'run_detail', 'exe_2', NULL, NULL, 'Read', '{}', NULL, 'denied', NULL, 1700000000008, NULL, NULL);
                """);
        }

        var (phasesByName, approvalsByName, phasesByHand, approvalsByHand) = await db.ReadAsync(async c =>
        {
            var phases = new List<RunStore.PhaseRunRow>();
            var approvals = new List<ToolApprovals.ToolApprovalRow>();
            await Baton.Storage.Rows.ReadEachAsync(c, null, new Dictionary<string, object?> { ["runId"] = "run_detail" },
                (RunStore.PhaseRunsOfRun, r =>
                {
                    while (r.Read())
                    {
                        phases.Add(RunStore.PhaseRunRow.Read(r));
                    }
                }),
                (null, _ => throw new InvalidOperationException("a null statement is skipped")),
                (ToolApprovals.ToolApprovalStore.OfRun, r =>
                {
                    while (r.Read())
                    {
                        approvals.Add(ToolApprovals.ToolApprovalRow.Read(r));
                    }
                }));
            return ((await c.QueryAsync<RunStore.PhaseRunRow>(RunStore.PhaseRunsOfRun, new { runId = "run_detail" })).ToList(),
                await ToolApprovals.ToolApprovalStore.OfRunAsync(c, null, "run_detail"), phases, approvals);
        });

        Assert.Equal(2, phasesByHand.Count);
        Assert.Equal(JsonSerializer.Serialize(phasesByName), JsonSerializer.Serialize(phasesByHand));
        Assert.Equal(["approved", "expired", "denied"], approvalsByHand.Select(a => a.Status));
        Assert.Equal(JsonSerializer.Serialize(approvalsByName), JsonSerializer.Serialize(approvalsByHand));
    }

    public void Dispose()
    {
        TestDatabase.Drop(_dataDir.FullName);
        _dataDir.Delete(recursive: true);
    }
}
