using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Gates;

/// <summary>A server with gates that need approvals from named groups (`require_groups`, ADR 39).</summary>
public sealed class GroupQuorumFactory() : BatonFactory(profiles: new Dictionary<string, string>
{
    // Two approvers, one of them from security, never the run's creator.
    ["security_quorum"] = """
        name: security_quorum
        max_iterations: 3
        phases:
          - name: change
            produces: [change.md]
            gate:
              approvals: 2
              require_groups: {security: 1}
              self_approval: deny
          - name: ship
            produces: [ship.md]
        """,
    // Three approvers: one from security, one from legal; a key in both groups fills only one of the two places.
    ["two_groups"] = """
        name: two_groups
        phases:
          - name: change
            produces: [change.md]
            gate:
              approvals: 2
              require_groups: {security: 1, legal: 1}
          - name: ship
            produces: [ship.md]
        """,
});

/// <summary>Per-group quorum through the API, the inbox and the run page: who counts, who is refused, what is missing.</summary>
public class GroupQuorumTests(GroupQuorumFactory factory) : IClassFixture<GroupQuorumFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<GateKey> KeyAsync(string role, params string[] groups) => GateKey.CreateAsync(factory, role, groups);

    private static async Task<(HttpStatusCode Status, JsonElement Problem)> ApproveAsync(HttpClient http, string runId)
    {
        using var response = await http.PostAsJsonAsync($"/api/runs/{runId}/approve", new { comment = "ok" });
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task<bool> InInboxAsync(BatonClient client, string runId) =>
        (await client.GetInboxAsync()).Items.Any(i => i.RunId == runId);

    [Fact]
    public async Task The_second_approval_must_come_from_security_once_the_other_place_is_filled()
    {
        var (ann, _, annName, _) = await KeyAsync("approver");
        var (bob, bobHttp, bobName, _) = await KeyAsync("approver");
        var (sec, _, secName, _) = await KeyAsync("approver", "security");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("security_quorum", "x"));
        var gate = (await _admin.WaitForGateAsync(run.RunId, "change", 1)).Gate!;
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, gate.RequiredGroups);
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, gate.MissingGroups);
        Assert.True(await InInboxAsync(bob, run.RunId));

        var first = await ann.ApproveAsync(run.RunId, new ApproveRequest("looks right"));
        Assert.Equal("awaiting_approval", first.Status);
        Assert.Equal([annName], first.Gate!.Approvals.Select(a => a.By));
        Assert.Empty(first.Gate.Approvals[0].Groups!);
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, first.Gate.MissingGroups);

        // The one place left is security's: bob's approval could not count, so it is refused and his inbox is empty of it.
        Assert.False(await InInboxAsync(bob, run.RunId));
        var secItem = (await sec.GetInboxAsync()).Items.Single(i => i.RunId == run.RunId);
        Assert.Equal((1, 2), (secItem.Approvals, secItem.ApprovalsRequired));
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, secItem.MissingGroups);
        var (status, problem) = await ApproveAsync(bobHttp, run.RunId);
        Assert.Equal(HttpStatusCode.Conflict, status);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("must come from group security (1 more)", detail, StringComparison.Ordinal);
        Assert.Contains($"key '{bobName}' is in no group", detail, StringComparison.Ordinal);
        Assert.Single((await _admin.GetRunAsync(run.RunId)).Gate!.Approvals);

        await sec.ApproveAsync(run.RunId, new ApproveRequest("security ok"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var events = await _admin.EventsOfAsync(run.RunId);
        var recorded = events.Single(e => e.Type == "gate.approval_recorded").Data!.Value;
        var approved = events.Single(e => e.Type == "gate.approved");
        Assert.Equal(secName, approved.Actor);
        Assert.Equal(1, recorded.GetProperty("missing_groups").GetProperty("security").GetInt32());
        Assert.Equal(["security"], approved.Data!.Value.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        Assert.Empty(approved.Data.Value.GetProperty("missing_groups").EnumerateObject());
    }

    [Fact]
    public async Task A_security_approval_first_leaves_the_last_place_to_anyone()
    {
        var (sec, _, _, _) = await KeyAsync("approver", "security");
        var (ann, _, annName, _) = await KeyAsync("approver");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("security_quorum", "x"));
        await _admin.WaitForGateAsync(run.RunId, "change", 1);

        var first = await sec.ApproveAsync(run.RunId, new ApproveRequest());
        Assert.Empty(first.Gate!.MissingGroups!);
        Assert.Equal(["security"], first.Gate.Approvals[0].Groups!);
        Assert.True(await InInboxAsync(ann, run.RunId));
        Assert.False(await InInboxAsync(sec, run.RunId));

        await ann.ApproveAsync(run.RunId, new ApproveRequest());
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(annName, (await _admin.EventsOfAsync(run.RunId)).Single(e => e.Type == "gate.approved").Actor);
    }

    [Fact]
    public async Task Self_approval_deny_holds_for_a_security_key_that_created_the_run_and_anyone_may_still_reject()
    {
        var (creator, creatorHttp, _, _) = await KeyAsync("approver", "security");
        var (ann, _, _, _) = await KeyAsync("approver");
        var (bob, bobHttp, _, _) = await KeyAsync("approver");
        var run = await creator.CreateRunAsync(new CreateRunRequest("security_quorum", "x"));
        await _admin.WaitForGateAsync(run.RunId, "change", 1);

        var (selfStatus, selfProblem) = await ApproveAsync(creatorHttp, run.RunId);
        Assert.Equal(HttpStatusCode.Forbidden, selfStatus);
        Assert.Contains("self_approval is deny", selfProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.False(await InInboxAsync(creator, run.RunId));

        await ann.ApproveAsync(run.RunId, new ApproveRequest());
        // bob's approval could not count, but a rejection needs no place: one rejection sends the run back.
        Assert.Equal(HttpStatusCode.Conflict, (await ApproveAsync(bobHttp, run.RunId)).Status);
        var rejected = await bob.RejectAsync(run.RunId, new RejectRequest("the rollback is missing"));
        Assert.NotEqual("completed", rejected.Status);
        var second = (await _admin.WaitForGateAsync(run.RunId, "change", 2)).Gate!;
        Assert.Empty(second.Approvals);
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, second.MissingGroups);
        Assert.True(await InInboxAsync(bob, run.RunId));
    }

    [Fact]
    public async Task A_key_in_two_groups_fills_one_place_and_goes_where_it_is_needed()
    {
        var (both, _, _, _) = await KeyAsync("approver", "security", "legal");
        var (plain, plainHttp, _, _) = await KeyAsync("approver");
        var (lawyer, _, lawyerName, _) = await KeyAsync("approver", "legal");
        var (guard, _, _, _) = await KeyAsync("approver", "security");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("two_groups", "x"));
        await _admin.WaitForGateAsync(run.RunId, "change", 1);

        var first = await both.ApproveAsync(run.RunId, new ApproveRequest());
        // Either place could be the one it fills; one of the two is missing, whichever it is.
        Assert.Equal(1, first.Gate!.MissingGroups!.Values.Sum());
        Assert.Equal(HttpStatusCode.Conflict, (await ApproveAsync(plainHttp, run.RunId)).Status);
        Assert.False(await InInboxAsync(plain, run.RunId));
        // A security key fills security's place when the key of both groups moves over to legal's.
        Assert.True(await InInboxAsync(guard, run.RunId));
        Assert.True(await InInboxAsync(lawyer, run.RunId));

        await lawyer.ApproveAsync(run.RunId, new ApproveRequest());
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(lawyerName, (await _admin.EventsOfAsync(run.RunId)).Single(e => e.Type == "gate.approved").Actor);
    }

    [Fact]
    public async Task The_run_page_shows_the_groups_required_and_still_missing()
    {
        var (sec, _, _, token) = await KeyAsync("approver", "security");
        var (ann, _, _, _) = await KeyAsync("approver");
        using var browser = new Browser(factory);
        await browser.SignInAsync(token);
        var run = await _admin.CreateRunAsync(new CreateRunRequest("security_quorum", "x"));
        await _admin.WaitForGateAsync(run.RunId, "change", 1);
        await ann.ApproveAsync(run.RunId, new ApproveRequest());

        var page = await browser.GetAsync($"/runs/{run.RunId}");
        var groups = Regex.Match(page.Html, "<p class=\"small gate-groups\">([^<]*)</p>").Groups[1].Value;
        Assert.Contains("from groups: 1 of security", groups, StringComparison.Ordinal);
        Assert.Contains("still missing: 1 of security", groups, StringComparison.Ordinal);
        Assert.True(await InInboxAsync(sec, run.RunId));
    }
}
