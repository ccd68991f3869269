using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Engine;

/// <summary>
/// What a straight-through phase transition costs the database, seen in the statements SQLite runs: its finish starts
/// with the fence, never with a look at the lease, and it ends the phase and starts the next in a bounded number of
/// writes.
/// </summary>
public sealed class TransitionStatementsTests
{
    private const string Fence = "DELETE FROM jobs WHERE id = @Id AND lease_token = @LeaseToken";

    /// <summary>
    /// Today's count: fence, execution, blob, artifact, run, phase runs (both in one statement), the next job (inserted
    /// leased), its execution, and every event of the transaction in one statement. Issue 10 asked for about 10; it was 15.
    /// </summary>
    private const int MaxWritesPerHandOff = 9;

    /// <summary>A hand-off inserts the next phase's job already leased to the worker going on with it.</summary>
    private const string LeasedInsert = "INSERT INTO jobs(kind, run_id, phase, iteration, run_at, created_at, worker, attempts, lease_owner";

    [Fact]
    public async Task A_finish_begins_with_the_fence_and_hands_over_in_a_bounded_number_of_writes()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["straight"] = TestProfiles.Straight })
        {
            Settings = { ["BATON_WORKERS"] = "1" },
            Sqlite = true,
        };
        using var statements = SqliteStatements.Watch(factory.DatabasePath);
        var client = factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("straight", "count the statements"));
        await client.WaitForStatusAsync(run.RunId, "completed");
        // The writer's statements only: the event feed and the API read on other connections meanwhile.
        var all = statements.StopWithConnections();
        var writer = all.First(s => s.Sql.Trim() == "SAVEPOINT \"write\";").Connection;
        var ran = all.Where(s => s.Connection == writer).Select(s => s.Sql).ToList();

        // Each of the writer's writes is one SAVEPOINT "write" block.
        var finishes = Blocks(ran).Where(b => b.Any(s => s.StartsWith(Fence, StringComparison.Ordinal))).ToList();
        Assert.Equal(3, finishes.Count);
        foreach (var finish in finishes)
        {
            Assert.StartsWith(Fence, finish[0], StringComparison.Ordinal);
            Assert.DoesNotContain(finish, s => s.StartsWith("SELECT COUNT(*) FROM jobs", StringComparison.Ordinal));
        }
        var handOffs = finishes.Where(b => b.Any(s => s.StartsWith(LeasedInsert, StringComparison.Ordinal))).ToList();
        Assert.Equal(2, handOffs.Count);
        foreach (var handOff in handOffs)
        {
            var writes = handOff.Where(s => !s.StartsWith("SELECT", StringComparison.Ordinal)).ToList();
            Assert.True(writes.Count <= MaxWritesPerHandOff, $"{writes.Count} writes:\n{string.Join("\n", writes)}");
        }
    }

    /// <summary>The statements between each SAVEPOINT "write" and its RELEASE, in order.</summary>
    private static IEnumerable<List<string>> Blocks(IReadOnlyList<string> ran)
    {
        List<string>? block = null;
        foreach (var statement in ran.Select(s => s.Trim()))
        {
            if (statement == "SAVEPOINT \"write\";")
            {
                block = [];
            }
            else if (statement == "RELEASE SAVEPOINT \"write\";" && block is not null)
            {
                yield return block;
                block = null;
            }
            else
            {
                block?.Add(statement);
            }
        }
    }
}
