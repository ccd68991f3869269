using System.Net;
using System.Net.Http.Json;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Gates;

/// <summary>
/// Approvals of one N-of-M gate sent at once over the nodes of one database (<see cref="SharedDatabaseNodes"/>): each
/// reads the approvals so far under the run's lock, so the count is what one approval after another would give.
/// </summary>
public sealed class RacingApprovalTests : IDisposable
{
    private const string Profile = """
        name: three_keys
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              approvals: 3
          - name: publish
            produces: [published.md]
        """;

    private readonly SharedDatabaseNodes _nodes = new(new Dictionary<string, string> { ["three_keys"] = Profile });

    public void Dispose() => _nodes.Dispose();

    private async Task<List<string>> TokensAsync(int count)
    {
        var admin = _nodes.First.Client();
        var tokens = new List<string>();
        for (var i = 0; i < count; i++)
        {
            tokens.Add((await admin.CreateKeyAsync(new CreateKeyRequest($"racer-{i}-{Guid.NewGuid():N}"[..24], "approver"))).Token);
        }
        return tokens;
    }

    private async Task<long> ApprovalsAsync(string runId) =>
        await _nodes.First.Service<Database>().ReadAsync(c => c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM gate_decisions WHERE run_id = @runId AND decision = 'approved'", new { runId }));

    [Fact]
    public async Task Five_keys_approving_a_three_key_gate_at_once_give_three_approvals_and_one_decision()
    {
        var tokens = await TokensAsync(5);
        var admin = _nodes.First.Client();
        var run = await admin.CreateRunAsync(new CreateRunRequest("three_keys", "x"));
        await admin.WaitForGateAsync(run.RunId, "draft", 1);

        var responses = await SharedDatabaseNodes.RaceAsync(5, i =>
            _nodes.Nodes[i % _nodes.Nodes.Count].Http(tokens[i]).PostAsJsonAsync($"/api/runs/{run.RunId}/approve", new { comment = $"racer {i}" }));

        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(2, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        await admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(3, await ApprovalsAsync(run.RunId));
        var events = await admin.EventsOfAsync(run.RunId);
        Assert.Equal(2, events.Count(e => e.Type == "gate.approval_recorded"));
        Assert.Single(events, e => e.Type == "gate.approved");
    }

    [Fact]
    public async Task One_key_approving_many_times_at_once_counts_once()
    {
        var token = (await TokensAsync(1))[0];
        var admin = _nodes.First.Client();
        var run = await admin.CreateRunAsync(new CreateRunRequest("three_keys", "x"));
        await admin.WaitForGateAsync(run.RunId, "draft", 1);

        var responses = await SharedDatabaseNodes.RaceAsync(10, i =>
            _nodes.Nodes[i % _nodes.Nodes.Count].Http(token).PostAsJsonAsync($"/api/runs/{run.RunId}/approve", new { }));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(9, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(1, await ApprovalsAsync(run.RunId));
        var after = await admin.GetRunAsync(run.RunId);
        Assert.Equal(("awaiting_approval", 1), (after.Status, after.Gate!.Approvals.Count));
    }
}
