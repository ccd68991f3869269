using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Tests.Support;
using Npgsql;

namespace Baton.Tests.Cluster;

/// <summary>
/// Several nodes on one PostgreSQL: an api node that takes requests and worker nodes that run the engine, each its
/// own host with its own signals, sharing only the database (as separate machines would). Runs in ./test's
/// PostgreSQL pass (trait Database=postgres); the SQLite pass leaves it out, since one process owns an SQLite file.
/// </summary>
[Trait("Database", "postgres")]
public sealed class MultiNodeTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly List<BatonFactory> _nodes = [];

    public MultiNodeTests()
    {
        if (!TestDatabase.IsPostgres)
        {
            throw new InvalidOperationException("several nodes need PostgreSQL: run ./test, or set BATON_TEST_POSTGRES");
        }
    }

    /// <summary>A node with <paramref name="role"/> on the first node's database.</summary>
    private BatonFactory Node(string role)
    {
        var node = new BatonFactory(profiles: new Dictionary<string, string>
        {
            ["straight"] = TestProfiles.Straight,
            ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
        });
        node.Settings["BATON_ROLE"] = role;
        if (_nodes.Count > 0)
        {
            node.Settings["BATON_DATABASE"] = TestDatabase.SettingFor(_nodes[0].DataDir)!;
        }
        _nodes.Add(node);
        _ = node.Server;
        return node;
    }

    [Fact]
    public async Task An_api_node_takes_the_run_and_a_worker_node_runs_it_woken_at_once()
    {
        var api = Node("api");
        Node("worker");
        var client = api.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("straight", "three phases on another node"));
        // The worker node's idle poll is 30 s: a run done well before that was woken by the api node's NOTIFY (and
        // the api node's stream heard of each event the worker node wrote from its NOTIFY in turn).
        var clock = Stopwatch.StartNew();
        var events = await client.EventsOfAsync(run.RunId);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the run took {clock.Elapsed}: it waited for a poll");
        Assert.Equal(3, events.Count(e => e.Type == "phase.completed"));
        Assert.Equal("run.completed", events[^1].Type);
    }

    [Fact]
    public async Task A_create_on_a_quiet_api_node_announces_its_job_with_its_own_commit()
    {
        var api = Node("api");
        await using var listener = new NpgsqlConnection(TestDatabase.SettingFor(api.DataDir));
        await listener.OpenAsync();
        var payloads = new List<string>();
        listener.Notification += (_, e) => payloads.Add(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {Baton.Engine.ClusterSignals.Channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await api.Client().CreateRunAsync(new CreateRunRequest("straight", "announced at the commit"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!payloads.Any(p => p.StartsWith('j')))
        {
            await listener.WaitAsync(timeout.Token);
        }

        // The create's transaction sent it (marked with its node, whose own listener skips it), not the node's sender
        // after the commit: one round trip and one hand-off between threads sooner.
        var jobs = Assert.Single(payloads, p => p.StartsWith('j'));
        Assert.Matches("^j1 o[0-9a-f]{32}$", jobs);
    }

    [Fact]
    public async Task New_events_are_announced_on_a_channel_of_their_own_which_worker_nodes_do_not_hear()
    {
        var api = Node("api");
        Node("worker");
        await using var listener = new NpgsqlConnection(TestDatabase.SettingFor(api.DataDir));
        await listener.OpenAsync();
        var heard = new List<(string Channel, string Payload)>();
        listener.Notification += (_, e) => heard.Add((e.Channel, e.Payload));
        await using (var listen = new NpgsqlCommand($"LISTEN {Baton.Engine.ClusterSignals.Channel}; LISTEN {Baton.Engine.ClusterSignals.EventsChannel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        var run = await api.Client().CreateRunAsync(new CreateRunRequest("straight", "events on their own channel"));
        await api.Client().WaitForStatusAsync(run.RunId, "completed");
        // Jobs (and stops) go to every node; events only to those that listen for them (api nodes: their streams).
        // Each WaitAsync takes what has arrived, which may be the events of an earlier commit alone.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!heard.Any(h => h.Channel == Baton.Engine.ClusterSignals.EventsChannel)
               || !heard.Any(h => h.Channel == Baton.Engine.ClusterSignals.Channel && h.Payload.StartsWith('j')))
        {
            await listener.WaitAsync(timeout.Token);
        }
        Assert.DoesNotContain(heard, h => h.Channel == Baton.Engine.ClusterSignals.Channel && h.Payload.Split(' ').Contains("e"));
    }

    [Fact]
    public async Task A_webhook_delivery_queued_on_either_node_is_sent_by_the_worker_node_at_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var api = Node("api");
        Node("worker");
        var hook = await api.Http().PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, secret = "a-webhook-secret-of-32-characters", events = new[] { "gate.opened", "run.failed" } });
        Assert.Equal(HttpStatusCode.Created, hook.StatusCode);
        var client = api.Client();
        // The worker node's idle poll is 30 s, and it reads no events: each delivery sent well before that was announced
        // by the transaction that queued it, on the worker node (its hand-off to the gate) or on the api node (the
        // rejection that fails the run, the profile's iterations used up).
        var clock = Stopwatch.StartNew();
        var run = await client.CreateRunAsync(new CreateRunRequest("gated", "rejected twice"));
        Assert.Equal("gate.opened", (await receiver.NextAsync()).Event);
        await client.RejectAsync(run.RunId, "again");
        Assert.Equal("gate.opened", (await receiver.NextAsync()).Event);
        // The worker node's pacemaker looks at the queue once more shortly after its last signal: let it settle into
        // its idle poll, so that only an announcement can wake it for what the api node queues next.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var failed = await client.RejectAsync(run.RunId, "no");
        Assert.Equal("failed", failed.Status);
        Assert.Equal("run.failed", (await receiver.NextAsync()).Event);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the deliveries took {clock.Elapsed}: one waited for a poll");
    }

    [Fact]
    public async Task An_api_node_runs_no_engine_and_a_worker_node_serves_no_api()
    {
        var api = Node("api");
        var run = await api.Client().CreateRunAsync(new CreateRunRequest("straight", "nobody runs this until a worker node starts"));
        // An absence: give an engine, were there one, far more time than a phase takes.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal("pending", (await api.Client().GetRunAsync(run.RunId)).Phases[0].Status);

        var worker = Node("worker");
        Assert.Equal(HttpStatusCode.NotFound, (await worker.Http().GetAsync("/api/runs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await worker.Http(token: null).GetAsync("/readyz")).StatusCode);
        await api.Client().WaitForStatusAsync(run.RunId, "completed");
    }

    [Fact]
    public async Task A_cancel_sent_to_the_api_node_stops_the_agent_on_the_worker_node_within_5_seconds()
    {
        var api = Node("api");
        Node("worker");
        var client = api.Client();
        await client.CreateWorkerAsync(new CreateWorkerRequest("tree", "command", [_repo.ScriptPath("tree.sh")]));
        var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        File.WriteAllText(Path.Combine(api.DataDir, "profiles", "slow.yaml"), """
            name: slow
            phases:
              - name: work
                worker: tree
                prompt: "{{intake}}"
                max_attempts: 1
            """);
        var run = await client.CreateRunAsync(new CreateRunRequest("slow", "run until cancelled", RepositoryId: repo.RepositoryId));
        var tree = await AgentTreeAsync(run.RunId);

        var cancelled = await client.CancelAsync(run.RunId, "stop it");
        await Eventually.HoldsAsync(() => !tree.Any(AgentProcesses.IsAlive), TimeSpan.FromSeconds(5));
        Assert.Equal("cancelled", cancelled.Status);
        Assert.DoesNotContain(tree, AgentProcesses.IsAlive);
        Assert.Empty(AgentProcesses.Of(run.RunId));
    }

    [Fact]
    public async Task Approvals_sent_to_two_api_nodes_at_once_give_one_transition_and_one_409()
    {
        var a = Node("all");
        var b = Node("api");
        var run = await a.Client().CreateRunAsync(new CreateRunRequest("gated", "approve me twice"));
        await a.Client().WaitForStatusAsync(run.RunId, "awaiting_approval");

        var results = await Task.WhenAll(
            Outcome(() => a.Client().ApproveAsync(run.RunId, "from a")),
            Outcome(() => b.Client().ApproveAsync(run.RunId, "from b")));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], results.Order());
        var events = await a.Client().EventsOfAsync(run.RunId);
        Assert.Single(events, e => e.Type == "gate.approved");
    }

    [Fact]
    public async Task A_dashboard_sign_in_on_one_api_node_holds_on_another()
    {
        var a = Node("api");
        var b = Node("api");
        var key = await a.Client().CreateKeyAsync(new CreateKeyRequest("roaming-viewer", "viewer"));
        using var browser = new Dashboard.Browser(a);
        var signedIn = await browser.SignInAsync(key.Token);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);

        // The same cookies, sent to the other node: its data-protection keys are the database's, not a data dir's.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Cookie", string.Join("; ", signedIn.Cookies.Select(c => c.Split(';')[0])));
        using var page = await b.Http(token: null).SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    private static async Task<HttpStatusCode> Outcome(Func<Task> request)
    {
        try
        {
            await request();
            return HttpStatusCode.OK;
        }
        catch (BatonApiException ex)
        {
            return ex.Status;
        }
    }

    /// <summary>The agent's processes (bwrap, the sandbox's init, the script and its child), once all have started.</summary>
    private static async Task<IReadOnlyList<int>> AgentTreeAsync(string runId)
    {
        IReadOnlyList<int> tree = [];
        await Eventually.TrueAsync(() => (tree = AgentProcesses.Of(runId)).Count >= 3, "the agent started on the worker node");
        return tree;
    }

    public void Dispose()
    {
        // The nodes after the first share its database, which goes with the first.
        foreach (var node in Enumerable.Reverse(_nodes))
        {
            node.Dispose();
        }
        _repo.Dispose();
    }
}
