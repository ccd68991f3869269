using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;

namespace Baton.Tests.Gates;

/// <summary>One server with the governed-gate profiles of issue 13 (ADR 32).</summary>
public sealed class GateFactory() : BatonFactory(profiles: new Dictionary<string, string>
{
    ["two_keys"] = TwoKeys,
    // Only the security group decides, and never the key that started the run.
    ["guarded"] = """
        name: guarded
        max_iterations: 3
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              approvers: [group:security]
              self_approval: deny
          - name: publish
            produces: [published.md]
        """,
    // Two of the security group, never the run's creator: whose inbox holds what.
    ["inbox_gate"] = """
        name: inbox_gate
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              timeout: 2d
              approvals: 2
              approvers: [group:security]
              self_approval: deny
          - name: publish
            produces: [published.md]
        """,
    ["stepwise"] = """
        name: stepwise
        mode: manual
        phases:
          - name: first
            produces: [first.md]
          - name: second
            produces: [second.md]
        """,
    ["form"] = """
        name: form
        max_iterations: 3
        phases:
          - name: review
            produces: [review.md]
            gate:
              reject_to: [review]
              inputs:
                ticket: {type: string, required: true, description: the change ticket}
                risk: {type: enum, values: [low, high], required: true}
                hours: {type: number}
                urgent: {type: boolean}
                notes: {type: text}
          - name: ship
            produces: [ship.md]
            templates:
              ship.md: "ticket={{gate.review.ticket}} risk={{gate.review.risk}} hours={{gate.review.hours}} urgent={{gate.review.urgent}}"
        """,
})
{
    /// <summary>Two distinct keys must approve; the next phase writes what the gate's form said.</summary>
    public const string TwoKeys = """
        name: two_keys
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              approvals: 2
              inputs:
                ticket: {type: string, description: the change ticket}
          - name: publish
            produces: [published.md]
            templates:
              published.md: "ticket={{gate.draft.ticket}}"
        """;
}

/// <summary>Every rule of a governed gate through the API: N of M, approvers, self-approval, digests, forms.</summary>
public class GateTests(GateFactory factory) : IClassFixture<GateFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private async Task<(BatonClient Client, HttpClient Http, string Name)> KeyAsync(string role, params string[] groups)
    {
        var key = await GateKey.CreateAsync(factory, role, groups);
        return (key.Client, key.Http, key.Name);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Problem)> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task Two_approvals_from_two_keys_decide_the_gate_and_the_same_key_twice_is_409()
    {
        var (ann, annHttp, annName) = await KeyAsync("approver");
        var (bob, _, bobName) = await KeyAsync("approver");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("two_keys", "x"));
        var waiting = await _admin.WaitForGateAsync(run.RunId, "draft", 1);
        var gate = waiting.Gate!;
        Assert.Equal(("draft", 1, 2), (gate.Phase, gate.Iteration, gate.ApprovalsRequired));
        Assert.Empty(gate.Approvals);
        Assert.StartsWith("sha256:", gate.Digest, StringComparison.Ordinal);
        Assert.Equal(waiting.Phases.Single(p => p.Name == "draft").Approval!.Deadline, gate.ExpiresAt);

        var first = await ann.ApproveAsync(run.RunId, new ApproveRequest("one of two", gate.Digest));
        Assert.Equal("awaiting_approval", first.Status);
        Assert.Equal([annName], first.Gate!.Approvals.Select(a => a.By));
        Assert.Equal("one of two", first.Gate.Approvals[0].Comment);

        var again = await PostAsync(annHttp, $"/api/runs/{run.RunId}/approve", new { comment = "me again" });
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Contains("already approved", again.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        await bob.ApproveAsync(run.RunId, new ApproveRequest(Inputs: new Dictionary<string, JsonElement> { ["ticket"] = JsonSerializer.SerializeToElement("CHG-42") }));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal("ticket=CHG-42", await _admin.GetArtifactAsync(run.RunId, "published.md"));

        var events = await _admin.EventsOfAsync(run.RunId);
        var recorded = events.Single(e => e.Type == "gate.approval_recorded");
        var approved = events.Single(e => e.Type == "gate.approved");
        Assert.Equal((annName, bobName), (recorded.Actor, approved.Actor));
        foreach (var decision in new[] { recorded, approved })
        {
            Assert.Equal(gate.Digest, decision.Data!.Value.GetProperty("digest").GetString());
            Assert.True(decision.Data.Value.TryGetProperty("commit", out _));
            Assert.StartsWith("key_", decision.Data.Value.GetProperty("decider").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal((1, 2), (recorded.Data!.Value.GetProperty("approvals").GetInt32(), approved.Data!.Value.GetProperty("approvals").GetInt32()));
    }

    [Fact]
    public async Task Only_the_named_group_decides_and_never_the_key_that_created_the_run()
    {
        var (outsider, outsiderHttp, _) = await KeyAsync("approver", "platform");
        var (_, operatorHttp, _) = await KeyAsync("operator", "security");
        var (creator, creatorHttp, _) = await KeyAsync("approver", "security");
        var (guard, _, guardName) = await KeyAsync("approver", "security");
        var run = await creator.CreateRunAsync(new CreateRunRequest("guarded", "x"));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);

        var notInGroup = await PostAsync(outsiderHttp, $"/api/runs/{run.RunId}/approve", new { });
        Assert.Equal(HttpStatusCode.Forbidden, notInGroup.Status);
        Assert.Contains("group:security", notInGroup.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var notInGroupReject = await PostAsync(outsiderHttp, $"/api/runs/{run.RunId}/reject", new { feedback = "no" });
        Assert.Equal(HttpStatusCode.Forbidden, notInGroupReject.Status);

        // The group does not lift a role: deciding a gate needs the approver role.
        var operatorInGroup = await PostAsync(operatorHttp, $"/api/runs/{run.RunId}/approve", new { });
        Assert.Equal(HttpStatusCode.Forbidden, operatorInGroup.Status);
        Assert.Contains("approver role", operatorInGroup.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        foreach (var (verb, body) in new (string, object)[] { ("approve", new { }), ("reject", new { feedback = "mine, but no" }) })
        {
            var self = await PostAsync(creatorHttp, $"/api/runs/{run.RunId}/{verb}", body);
            Assert.Equal(HttpStatusCode.Forbidden, self.Status);
            Assert.Contains("self_approval is deny", self.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);

        await guard.ApproveAsync(run.RunId, "security signs off");
        var done = await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(guardName, done.Phases.Single(p => p.Name == "draft").Approval!.Actor);
        _ = outsider;
    }

    [Fact]
    public async Task The_inbox_holds_what_each_key_may_decide_now_oldest_first()
    {
        var (ann, _, _) = await KeyAsync("approver", "security");
        var (dan, _, _) = await KeyAsync("approver", "security");
        var (bob, _, _) = await KeyAsync("approver");
        var (vic, _, _) = await KeyAsync("viewer", "security");
        var (creator, _, _) = await KeyAsync("approver", "security");
        var older = await creator.CreateRunAsync(new CreateRunRequest("inbox_gate", "older"));
        await _admin.WaitForGateAsync(older.RunId, "draft", 1);
        var newer = await creator.CreateRunAsync(new CreateRunRequest("inbox_gate", "newer"));
        var gate = (await _admin.WaitForGateAsync(newer.RunId, "draft", 1)).Gate!;
        string[] ours = [older.RunId, newer.RunId];
        async Task<List<InboxItem>> InboxOf(BatonClient client) => [.. (await client.GetInboxAsync()).Items.Where(i => ours.Contains(i.RunId))];

        var annSees = await InboxOf(ann);
        Assert.Equal(ours, annSees.Select(i => i.RunId));
        var item = annSees[1];
        Assert.Equal(("gate", "draft", 1, 0, 2), (item.Kind, item.Phase, item.Iteration, item.Approvals, item.ApprovalsRequired));
        Assert.Equal((gate.OpenedAt, gate.ExpiresAt), (item.OpenedAt, item.ExpiresAt));
        Assert.True(item.AgeSeconds >= 0);
        Assert.Empty(await InboxOf(bob));      // not in the security group
        Assert.Empty(await InboxOf(vic));      // a viewer decides nothing
        Assert.Empty(await InboxOf(creator));  // self_approval: deny
        Assert.Empty(await InboxOf(_admin));   // admin, but not among the approvers

        await ann.ApproveAsync(newer.RunId);
        Assert.Equal([older.RunId], (await InboxOf(ann)).Select(i => i.RunId));   // ann approved the newer one already
        var danSees = await InboxOf(dan);
        Assert.Equal(ours, danSees.Select(i => i.RunId));
        Assert.Equal(1, danSees[1].Approvals);

        await dan.ApproveAsync(newer.RunId);
        await _admin.WaitForStatusAsync(newer.RunId, "completed");
        Assert.Equal([older.RunId], (await InboxOf(dan)).Select(i => i.RunId));
        await _admin.CancelAsync(older.RunId);
        Assert.Empty(await InboxOf(ann));
    }

    [Fact]
    public async Task The_inbox_page_lists_the_waiting_gates_and_the_top_bar_counts_them()
    {
        var key = await _admin.CreateKeyAsync(new CreateKeyRequest("inbox-page-" + Guid.NewGuid().ToString("N")[..8], "approver", Groups: ["security"]));
        using var browser = new Browser(factory);
        await browser.SignInAsync(key.Token);
        var before = int.Parse((await browser.GetAsync("/inbox/count")).Html, System.Globalization.CultureInfo.InvariantCulture);
        var run = await _admin.CreateRunAsync(new CreateRunRequest("inbox_gate", "x"));
        await _admin.WaitForGateAsync(run.RunId, "draft", 1);

        var page = await browser.GetAsync("/inbox");
        Assert.Contains($"data-run=\"{run.RunId}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("0 of 2", page.Html, StringComparison.Ordinal);
        Assert.Contains("data-inbox-count", page.Html, StringComparison.Ordinal);
        Assert.Equal((before + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), (await browser.GetAsync("/inbox/count")).Html);

        await factory.Client(key.Token).ApproveAsync(run.RunId);
        Assert.Equal(before.ToString(System.Globalization.CultureInfo.InvariantCulture), (await browser.GetAsync("/inbox/count")).Html);
        Assert.DoesNotContain($"data-run=\"{run.RunId}\"", (await browser.GetAsync("/inbox")).Html, StringComparison.Ordinal);
        await _admin.CancelAsync(run.RunId);
    }

    [Fact]
    public async Task A_key_gets_its_groups_and_bad_groups_are_refused()
    {
        var created = await _admin.CreateKeyAsync(new CreateKeyRequest("grouped-" + Guid.NewGuid().ToString("N")[..8], "approver", Groups: ["security", "ops"]));
        Assert.Equal(["security", "ops"], created.Groups);
        Assert.Equal(["security", "ops"], (await _admin.ListKeysAsync()).Keys.Single(k => k.KeyId == created.KeyId).Groups);
        var bad = await PostAsync(factory.Http(), "/api/keys", new { name = "bad-groups", role = "approver", groups = new[] { "Security Team" } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("Security Team", bad.Problem.GetProperty("errors").GetProperty("groups")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_decision_on_a_stale_digest_is_409_with_the_current_digest()
    {
        var (ann, annHttp, _) = await KeyAsync("approver");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("form", "x"));
        var first = (await _admin.WaitForGateAsync(run.RunId, "review", 1)).Gate!;

        // Sent back: iteration 2 wrote review.md again, so what iteration 1's reviewer saw is no longer what waits.
        await ann.RejectAsync(run.RunId, new RejectRequest("add the rollback plan", Digest: first.Digest));
        var second = (await _admin.WaitForGateAsync(run.RunId, "review", 2)).Gate!;
        Assert.NotEqual(first.Digest, second.Digest);

        var good = new { ticket = "CHG-1", risk = "low" };
        var stale = await PostAsync(annHttp, $"/api/runs/{run.RunId}/approve", new { digest = first.Digest, inputs = good });
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        Assert.Equal(second.Digest, stale.Problem.GetProperty("digest").GetString());
        Assert.Contains("stale", stale.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var staleReject = await PostAsync(annHttp, $"/api/runs/{run.RunId}/reject", new { feedback = "no", digest = first.Digest });
        Assert.Equal((HttpStatusCode.Conflict, second.Digest), (staleReject.Status, staleReject.Problem.GetProperty("digest").GetString()));
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);

        var (status, _) = await PostAsync(annHttp, $"/api/runs/{run.RunId}/approve", new { digest = second.Digest, inputs = good });
        Assert.Equal(HttpStatusCode.OK, status);
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var rejected = (await _admin.EventsOfAsync(run.RunId)).Single(e => e.Type == "gate.rejected");
        Assert.Equal(first.Digest, rejected.Data!.Value.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task The_dashboard_renders_the_gate_form_and_its_values_reach_the_next_phase()
    {
        var key = await _admin.CreateKeyAsync(new CreateKeyRequest("page-" + Guid.NewGuid().ToString("N")[..8], "approver"));
        using var browser = new Browser(factory);
        await browser.SignInAsync(key.Token);
        var run = await _admin.CreateRunAsync(new CreateRunRequest("form", "x"));
        var gate = (await _admin.WaitForGateAsync(run.RunId, "review", 1)).Gate!;

        var page = await browser.GetAsync($"/runs/{run.RunId}");
        Assert.Contains($"name=\"digest\" value=\"{gate.Digest}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("name=\"input.ticket\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"high\">high</option>", page.Html, StringComparison.Ordinal);
        Assert.Contains("0 of 1 approvals", page.Html, StringComparison.Ordinal);

        var missing = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string>
        {
            ["version"] = page.Version, ["digest"] = gate.Digest, ["type.ticket"] = "string", ["input.ticket"] = "", ["type.risk"] = "enum", ["input.risk"] = "low",
        });
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Contains("ticket: required", missing.Html, StringComparison.Ordinal);

        var stale = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string>
        {
            ["version"] = page.Version, ["digest"] = "sha256:0", ["type.ticket"] = "string", ["input.ticket"] = "CHG-3", ["type.risk"] = "enum", ["input.risk"] = "low",
        });
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);

        var posted = await browser.PostAsync($"/runs/{run.RunId}/approve", new Dictionary<string, string>
        {
            ["version"] = page.Version, ["digest"] = gate.Digest, ["type.ticket"] = "string", ["input.ticket"] = "CHG-3", ["type.risk"] = "enum", ["input.risk"] = "low",
            ["type.hours"] = "number", ["input.hours"] = "4", ["type.urgent"] = "boolean", ["input.urgent"] = "false",
        });
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal("ticket=CHG-3 risk=low hours=4 urgent=false", await _admin.GetArtifactAsync(run.RunId, "ship.md"));
    }

    [Fact]
    public async Task Next_on_a_paused_phase_takes_a_digest_too()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("stepwise", "x"));
        await _admin.WaitForStatusAsync(run.RunId, "paused");
        var stale = await PostAsync(factory.Http(), $"/api/runs/{run.RunId}/next", new { digest = "sha256:0" });
        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        var current = stale.Problem.GetProperty("digest").GetString()!;
        Assert.StartsWith("sha256:", current, StringComparison.Ordinal);

        await _admin.NextAsync(run.RunId, new NextRequest(Digest: current));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var resumed = (await _admin.EventsUntilAsync(run.RunId, "run.resumed"))[^1];
        Assert.Equal(current, resumed.Data!.Value.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task An_approval_must_fill_the_form_and_each_wrong_field_is_named()
    {
        var (ann, annHttp, _) = await KeyAsync("approver");
        var run = await _admin.CreateRunAsync(new CreateRunRequest("form", "x"));
        var gate = (await _admin.WaitForGateAsync(run.RunId, "review", 1)).Gate!;
        Assert.Equal(["ticket", "risk", "hours", "urgent", "notes"], gate.Inputs.Select(i => i.Name));
        Assert.Equal(("enum", true), (gate.Inputs[1].Type, gate.Inputs[1].Required));
        Assert.Equal(["low", "high"], gate.Inputs[1].Values!);
        var path = $"/api/runs/{run.RunId}/approve";

        var missing = await PostAsync(annHttp, path, new { comment = "fine" });
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        var errors = missing.Problem.GetProperty("errors");
        Assert.Contains("required", errors.GetProperty("inputs.ticket")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("required", errors.GetProperty("inputs.risk")[0].GetString(), StringComparison.Ordinal);

        var wrong = await PostAsync(annHttp, path, new { inputs = new { ticket = 5, risk = "medium", hours = "two", urgent = "yes", notes = false, color = "red" } });
        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        var named = wrong.Problem.GetProperty("errors").EnumerateObject().ToDictionary(e => e.Name, e => e.Value[0].GetString()!);
        Assert.Equal(["inputs.color", "inputs.hours", "inputs.notes", "inputs.risk", "inputs.ticket", "inputs.urgent"], named.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("unknown input", named["inputs.color"], StringComparison.Ordinal);
        Assert.Contains("must be a number", named["inputs.hours"], StringComparison.Ordinal);
        Assert.Contains("one of: low, high", named["inputs.risk"], StringComparison.Ordinal);
        Assert.Contains("must be text", named["inputs.ticket"], StringComparison.Ordinal);
        Assert.Contains("true or false", named["inputs.urgent"], StringComparison.Ordinal);

        var oversized = await PostAsync(annHttp, path, new { inputs = new { ticket = new string('t', 1001), risk = "low", notes = new string('n', 64 * 1024 + 1) } });
        Assert.Equal(HttpStatusCode.BadRequest, oversized.Status);
        var tooLong = oversized.Problem.GetProperty("errors");
        Assert.Contains("longer than 1000", tooLong.GetProperty("inputs.ticket")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("longer than 65536", tooLong.GetProperty("inputs.notes")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("awaiting_approval", (await _admin.GetRunAsync(run.RunId)).Status);

        await ann.ApproveAsync(run.RunId, new ApproveRequest(Inputs: new Dictionary<string, JsonElement>
        {
            ["ticket"] = JsonSerializer.SerializeToElement("CHG-7"),
            ["risk"] = JsonSerializer.SerializeToElement("high"),
            ["hours"] = JsonSerializer.SerializeToElement(2.5),
            ["urgent"] = JsonSerializer.SerializeToElement(true),
        }));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal("ticket=CHG-7 risk=high hours=2.5 urgent=true", await _admin.GetArtifactAsync(run.RunId, "ship.md"));
    }
}
