using Baton.Client;
using Baton.Tests.Support;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Runs;

/// <summary>
/// What a run's phase transitions read. The intake (up to 1 MiB) and earlier artifacts are read only where they are
/// used, seen in the statements SQLite actually runs (<see cref="SqliteStatements"/>), not in our code's own account.
/// </summary>
public sealed class HotRowTests
{
    /// <summary>Three template phases: only the first uses the intake, and none uses an earlier artifact.</summary>
    private const string Profile = """
        name: hot
        phases:
          - name: one
            produces: [one.md]
            templates:
              one.md: "{{intake}}"
          - name: two
            produces: [two.md]
            templates:
              two.md: "two of {{run_id}}, iteration {{iteration}}"
          - name: three
            produces: [three.md]
            templates:
              three.md: "three, feedback {{feedback}}"
        """;

    /// <summary>The same phases, but the last one quotes the first one's artifact.</summary>
    private const string Quoting = """
        name: quoting
        phases:
          - name: one
            produces: [one.md]
            templates:
              one.md: "first: {{phase}}"
          - name: two
            produces: [two.md]
            templates:
              two.md: "two"
          - name: three
            produces: [three.md]
            templates:
              three.md: "quoted [{{artifact:one.md}}] of {{artifacts|json}}"
            checks:
              - artifact: one.md
                contains: "first"
        """;

    [Fact]
    public async Task A_1_MiB_intake_is_read_by_the_phase_that_uses_it_and_by_the_create_response_only()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["hot"] = Profile }) { Sqlite = true };
        using var statements = SqliteStatements.Watch(factory.DatabasePath);
        var client = factory.Client();
        await client.ListRunsAsync();
        statements.Restart();

        var intake = "# Big PRD\n" + new string('x', 1024 * 1024 - 10);
        var run = await client.CreateRunAsync(new CreateRunRequest("hot", intake));
        // Waits on the event stream, which reads events and the run's status, never the run's detail.
        var events = await client.EventsOfAsync(run.RunId);
        var ran = statements.Stop();

        Assert.Equal("run.completed", events[^1].Type);
        Assert.Equal(intake, run.Intake);
        Assert.Equal(intake, await client.GetArtifactAsync(run.RunId, "one.md"));
        Assert.Equal(intake, (await client.GetRunAsync(run.RunId)).Intake);

        // One read for phase one's input, one for the detail the create answers with; no transition loads it.
        var readingIntake = statements.Reading(ran, (_, column) => column == "intake");
        Assert.True(readingIntake.Count == 2, $"{readingIntake.Count} of {ran.Count} statements read the intake:\n{string.Join("\n", readingIntake)}");
    }

    [Fact]
    public async Task Phases_that_use_no_earlier_artifact_read_no_artifact()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["hot"] = Profile }) { Sqlite = true };
        using var statements = SqliteStatements.Watch(factory.DatabasePath);
        var client = factory.Client();
        await client.ListRunsAsync();
        statements.Restart();

        var run = await client.CreateRunAsync(new CreateRunRequest("hot", "A small ticket"));
        var events = await client.EventsOfAsync(run.RunId);
        var ran = statements.Stop();

        Assert.Equal("run.completed", events[^1].Type);
        Assert.NotEmpty(ran);
        // Writing the phases' own artifacts reads neither an artifact's name nor its content.
        var readingArtifacts = statements.Reading(ran, (table, column) => (table, column) is ("artifacts", "name") or ("blobs", "content"));
        Assert.True(readingArtifacts.Count == 0, $"{readingArtifacts.Count} statements read artifacts:\n{string.Join("\n", readingArtifacts)}");
    }

    [Fact]
    public async Task A_phase_that_quotes_an_earlier_artifact_reads_that_one_and_its_check_sees_it()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["quoting"] = Quoting }) { Sqlite = true };
        using var statements = SqliteStatements.Watch(factory.DatabasePath);
        var client = factory.Client();
        await client.ListRunsAsync();
        statements.Restart();

        var run = await client.CreateRunAsync(new CreateRunRequest("quoting", "A small ticket"));
        var events = await client.EventsOfAsync(run.RunId);
        var ran = statements.Stop();

        Assert.Equal("run.completed", events[^1].Type);
        Assert.Equal("quoted [first: one] of [\"one.md\",\"two.md\"]", await client.GetArtifactAsync(run.RunId, "three.md"));
        // Phase three's input, once; phases one and two read no content.
        var readingContent = statements.Reading(ran, (table, column) => table == "blobs" && column == "content");
        Assert.True(readingContent.Count == 1, $"{readingContent.Count} statements read artifact contents:\n{string.Join("\n", readingContent)}");
    }

    [Fact]
    public async Task The_migration_moves_the_intakes_an_older_baton_stored_out_of_the_runs_row()
    {
        var first = new BatonFactory(profiles: new Dictionary<string, string> { ["hot"] = Profile }) { KeepDataDir = true, Sqlite = true };
        var run = await first.Client().CreateRunAsync(new CreateRunRequest("hot", "# Kept\nacross the upgrade"));
        await first.Client().EventsOfAsync(run.RunId);
        await using (var c = new SqliteConnection($"Data Source={first.DatabasePath}"))
        {
            // The runs table as migrations 0001-0010 left it, with the intake in the row.
            await c.ExecuteAsync("""
                ALTER TABLE runs ADD COLUMN intake TEXT NOT NULL DEFAULT '';
                UPDATE runs SET intake = (SELECT intake FROM run_intakes WHERE run_id = runs.id);
                DROP TABLE run_intakes;
                DELETE FROM schema_migrations WHERE version LIKE '0011_%';
                """);
        }
        await first.DisposeAsync();

        using var again = new BatonFactory(dataDir: first.DataDir, profiles: new Dictionary<string, string> { ["hot"] = Profile }) { Sqlite = true };
        Assert.Equal("# Kept\nacross the upgrade", (await again.Client().GetRunAsync(run.RunId)).Intake);
        await using var check = new SqliteConnection($"Data Source={again.DatabasePath}");
        var columns = (await check.QueryAsync<string>("SELECT name FROM pragma_table_info('runs')")).ToList();
        Assert.Contains("status", columns);
        Assert.DoesNotContain("intake", columns);
    }
}
