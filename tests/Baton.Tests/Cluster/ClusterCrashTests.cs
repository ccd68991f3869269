using Baton.Client;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Cluster;

/// <summary>
/// Three real `baton serve` processes on one PostgreSQL share 200 runs of template and command phases while one of
/// them is killed with SIGKILL again and again in the middle of its phases and started again. Nothing may be lost or
/// done twice, and a reader of the global event stream on a node that lives sees every event once, in order.
/// </summary>
[Trait("Database", "postgres")]
public sealed class ClusterCrashTests : IDisposable
{
    private const string Token = "cluster-crash-admin-token-0001";
    private const int Runs = 200;
    private readonly List<string> _dataDirs = [.. Enumerable.Range(0, 3).Select(_ => Directory.CreateTempSubdirectory("baton-node-").FullName)];
    private readonly SampleRepo _repo = new();

    public ClusterCrashTests()
    {
        if (!TestDatabase.IsPostgres)
        {
            throw new InvalidOperationException("several nodes need PostgreSQL: run ./test, or set BATON_TEST_POSTGRES");
        }
    }

    [Fact]
    public async Task Runs_survive_a_node_killed_again_and_again_with_no_phase_done_twice_and_no_event_missed()
    {
        var database = TestDatabase.SettingFor(_dataDirs[0])!;
        var nodes = new ServerProcess?[3];
        for (var i = 0; i < nodes.Length; i++)
        {
            Directory.CreateDirectory(Path.Combine(_dataDirs[i], "profiles"));
            File.WriteAllText(Path.Combine(_dataDirs[i], "profiles", "mixed.yaml"), TestProfiles.Mixed);
            nodes[i] = await StartNodeAsync(i, database);
        }
        try
        {
            var client = nodes[0]!.Client(Token);
            await client.CreateWorkerAsync(new CreateWorkerRequest("sleeper", "command", [_repo.ScriptPath("sleep-then-write.sh")]));
            var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));

            // The global stream, read on node 0, which is never killed, from before the first run to after the last.
            using var reading = new CancellationTokenSource();
            var seen = new List<long>();
            var reader = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in client.StreamAllEventsAsync(0, reading.Token))
                    {
                        seen.Add(e.Seq);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });

            var runIds = new List<string>();
            for (var i = 0; i < Runs; i++)
            {
                var via = nodes[i % 3]!.Client(Token);
                runIds.Add((await via.CreateRunAsync(new CreateRunRequest("mixed", $"run {i}", RepositoryId: repo.RepositoryId))).RunId);
            }

            // Node 2 dies in the middle of its phases four times: each time once it holds running executions.
            await using var db = TestDatabase.Open(_dataDirs[0]);
            for (var kill = 0; kill < 4; kill++)
            {
                await Eventually.TrueAsync(async () => await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM executions WHERE status = 'running' AND node_id = @node", new { node = NodeId(2) })) > 0,
                    "node 2 ran an execution", TimeSpan.FromMinutes(2));
                nodes[2]!.KillHard();
                nodes[2]!.Dispose();
                // Not disposed twice by the finally below if the restart throws (which would hide why).
                nodes[2] = null;
                nodes[2] = await StartNodeAsync(2, database);
            }

            // All 200 finish within a few minutes on a busy 2-core machine; the limit is for a hang, not for speed. On
            // a hang, the assertion below says which runs did not finish and where their jobs are.
            await Eventually.HoldsAsync(async () => await db.ReadAsync(c => c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM runs WHERE status NOT IN ('completed', 'failed')")) == 0, TimeSpan.FromMinutes(10));
            var unfinished = (await db.ReadAsync(c => c.QueryAsync<string>(
                """
                SELECT r.id || ' ' || r.status || ' ' || COALESCE(r.error, '') || ' jobs: ' || COALESCE(STRING_AGG(j.kind || '/' || COALESCE(j.phase, '') || ' attempts ' || j.attempts || ' lease ' || COALESCE(j.lease_owner, '-') || ' pinned ' || COALESCE(j.pinned_node, '-') || ' due ' || j.run_at, ', '), 'none')
                FROM runs r LEFT JOIN jobs j ON j.run_id = r.id WHERE r.status <> 'completed' GROUP BY r.id, r.status, r.error
                """))).ToList();
            Assert.True(unfinished.Count == 0, string.Join("\n", unfinished));

            var twice = await db.ReadAsync(c => c.QueryAsync<string>(
                """
                SELECT run_id || ' ' || phase || ' ' || iteration FROM events WHERE type = 'phase.completed'
                GROUP BY run_id, phase, iteration HAVING COUNT(*) > 1
                """));
            Assert.Empty(twice);

            var interrupted = (await db.ReadAsync(c => c.QueryAsync<(string Status, string? Error)>(
                "SELECT status, error_message FROM executions WHERE status <> 'success'"))).ToList();
            Assert.NotEmpty(interrupted);
            Assert.True(interrupted.All(e => e is ("error", "worker lost")), string.Join("\n", interrupted));

            // The global stream carries every event but log lines (those are a run's own stream's).
            var committed = (await db.ReadAsync(c => c.QueryAsync<long>("SELECT seq FROM events WHERE type <> 'log' ORDER BY seq"))).ToList();
            await Eventually.HoldsAsync(() => seen.Count >= committed.Count || reader.IsCompleted);
            await reading.CancelAsync();
            await reader;
            var missing = committed.Except(seen).Take(10).ToList();
            Assert.True(seen.SequenceEqual(committed), $"the stream saw {seen.Count} events ({seen.Distinct().Count()} distinct) of {committed.Count}; first missing: {string.Join(", ", missing)}; last seen: {(seen.Count > 0 ? seen[^1] : 0)}");
        }
        finally
        {
            foreach (var node in nodes)
            {
                node?.Dispose();
            }
        }
    }

    private string NodeId(int i) => $"crash-node-{i}";

    private Task<ServerProcess> StartNodeAsync(int i, string database) => ServerProcess.StartAsync(_dataDirs[i], Token, new Dictionary<string, string>
    {
        ["BATON_DATABASE"] = database,
        ["BATON_NODE_ID"] = NodeId(i),
    });

    public void Dispose()
    {
        TestDatabase.Drop(_dataDirs[0]);
        foreach (var dir in _dataDirs)
        {
            Directory.Delete(dir, recursive: true);
            if (Directory.Exists(dir + "-work"))
            {
                Directory.Delete(dir + "-work", recursive: true);
            }
        }
        _repo.Dispose();
    }
}
