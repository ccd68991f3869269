using System.Diagnostics;
using System.Net;
using Baton.Client;
using Baton.Tests.Support;
using Dapper;
using Npgsql;

namespace Baton.Tests.Cluster;

/// <summary>
/// PostgreSQL restarts while two nodes work: they answer 503 on /readyz while it is down, recover by themselves when
/// it is back, and every run finishes with every phase done once. The test has a cluster of its own
/// (tests/postgres-cluster), as restarting the suite's would disturb every other test.
/// </summary>
[Trait("Database", "postgres")]
public sealed class DatabaseRestartTests : IDisposable
{
    private const string Token = "restart-admin-token-000000001";
    private readonly string _cluster;
    private readonly List<string> _dataDirs = [.. Enumerable.Range(0, 2).Select(_ => Directory.CreateTempSubdirectory("baton-node-").FullName)];
    private readonly SampleRepo _repo = new();

    public DatabaseRestartTests()
    {
        if (!TestDatabase.IsPostgres)
        {
            throw new InvalidOperationException("this test needs PostgreSQL's server programs: run ./test, or set BATON_TEST_POSTGRES");
        }
        _cluster = Cluster("start").Trim();
    }

    [Fact]
    public async Task Nodes_answer_503_while_the_database_is_down_and_finish_every_run_once_it_is_back()
    {
        var database = File.ReadAllText(Path.Combine(_cluster, "connection")).Trim();
        var nodes = new List<ServerProcess>();
        try
        {
            foreach (var dir in _dataDirs)
            {
                Directory.CreateDirectory(Path.Combine(dir, "profiles"));
                File.WriteAllText(Path.Combine(dir, "profiles", "mixed.yaml"), TestProfiles.Mixed);
                nodes.Add(await ServerProcess.StartAsync(dir, Token, new Dictionary<string, string> { ["BATON_DATABASE"] = database }));
            }
            var client = nodes[0].Client(Token);
            await client.CreateWorkerAsync(new CreateWorkerRequest("sleeper", "command", [_repo.ScriptPath("sleep-then-write.sh")]));
            var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
            var runs = new List<string>();
            for (var i = 0; i < 20; i++)
            {
                runs.Add((await nodes[i % 2].Client(Token).CreateRunAsync(new CreateRunRequest("mixed", $"run {i}", RepositoryId: repo.RepositoryId))).RunId);
            }

            Cluster("halt", _cluster);
            using var http = new HttpClient();
            foreach (var node in nodes)
            {
                Assert.True(await UntilAsync(async () => (await http.GetAsync(new Uri(node.Url, "readyz"))).StatusCode == HttpStatusCode.ServiceUnavailable),
                    $"{node.Url} never answered 503 while the database was down");
            }
            using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(nodes[1].Url, $"api/runs/{runs[0]}")))
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
                var down = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
                Assert.Contains("database is unavailable", await down.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            Cluster("resume", _cluster);
            foreach (var node in nodes)
            {
                Assert.True(await UntilAsync(async () => (await http.GetAsync(new Uri(node.Url, "readyz"))).StatusCode == HttpStatusCode.OK),
                    $"{node.Url} never became ready again:\n{node.Output}");
            }

            await using var check = new NpgsqlConnection(database);
            foreach (var id in runs)
            {
                var finished = await UntilAsync(async () => (await client.GetRunAsync(id)).Status is "completed" or "failed", TimeSpan.FromSeconds(90));
                var jobs = await check.QueryAsync<(string Kind, string? Phase, int Attempts, long RunAt, long? LeaseExpiresAt)>(
                    "SELECT kind, phase, attempts, run_at, lease_expires_at FROM jobs WHERE run_id = @id", new { id });
                Assert.True(finished, $"{id} is still {(await client.GetRunAsync(id)).Status}; its jobs: {string.Join("; ", jobs)} (now {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()})\n{nodes[0].Output[^Math.Min(4000, nodes[0].Output.Length)..]}");
                var run = await client.GetRunAsync(id);
                Assert.True(run.Status == "completed", $"{id}: {run.Status} {run.Error}");
            }
            var completions = (await check.QueryAsync<(string RunId, long Count)>(
                "SELECT run_id, COUNT(*) FROM events WHERE type = 'phase.completed' GROUP BY run_id")).ToDictionary(r => r.RunId, r => r.Count);
            Assert.All(runs, id => Assert.Equal(3, completions[id]));
        }
        finally
        {
            foreach (var node in nodes)
            {
                node.Dispose();
            }
        }
    }

    /// <summary>A condition on a node's answers, polled: a request that fails (a node between states) counts as "not yet".</summary>
    private static Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan? limit = null) =>
        Eventually.HoldsAsync(async () =>
        {
            try
            {
                return await condition();
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, limit);

    /// <summary>Runs tests/postgres-cluster from the repository this test was built from.</summary>
    private static string Cluster(params string[] args)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "tests", "postgres-cluster")))
        {
            root = root.Parent;
        }
        var start = new ProcessStartInfo(Path.Combine(root?.FullName ?? throw new FileNotFoundException("tests/postgres-cluster"), "tests", "postgres-cluster"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"postgres-cluster {string.Join(' ', args)}: {errors}");
    }

    public void Dispose()
    {
        Cluster("stop", _cluster);
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
