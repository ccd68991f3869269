using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

public class RunsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _client = factory.Client();

    private async Task<RunDetail> CompletedRunAsync(string profile = "straight", string? project = null)
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest(profile, "# Ship it\nDo the thing.", project));
        return await _client.WaitForStatusAsync(run.RunId, "completed");
    }

    [Fact]
    public async Task The_run_an_action_answers_with_is_the_run_as_stored()
    {
        // The transition builds its answer from the row it changed instead of reading it back: it must match a read.
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x", "as-stored"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        var rejected = await _client.RejectAsync(run.RunId, "again, shorter");
        // The engine may already have run the draft again and reopened the gate (a version more); never fewer.
        var read = await _client.GetRunAsync(run.RunId);
        Assert.True(read.Version == rejected.Version ? read.Status == rejected.Status : read.Version > rejected.Version, $"answered v{rejected.Version} {rejected.Status}, read v{read.Version} {read.Status}");
        await _client.WaitForGateAsync(run.RunId, "draft", 2);

        var cancelled = await _client.CancelAsync(run.RunId, "enough");

        Assert.Equal(JsonSerializer.Serialize(await _client.GetRunAsync(run.RunId)), JsonSerializer.Serialize(cancelled));
        Assert.Equal("cancelled", cancelled.Status);
        Assert.NotNull(cancelled.CompletedAt);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        Assert.DoesNotContain("   at ", body.ToString(), StringComparison.Ordinal);
        return body;
    }

    private static async Task AssertFieldErrorAsync(HttpResponseMessage response, string field)
    {
        var body = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), $"expected an error for '{field}' in {body}");
    }

    [Fact]
    public async Task Create_answers_201_with_location_and_the_run()
    {
        var response = await factory.Http().PostAsJsonAsync("/api/runs", new { profile = "straight", intake = "Build a thing", project_name = "alpha", mode = "auto" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var run = (await response.Content.ReadFromJsonAsync<RunDetail>(BatonJson.Options))!;
        Assert.Equal($"/api/runs/{run.RunId}", response.Headers.Location?.ToString());
        Assert.StartsWith("run_", run.RunId, StringComparison.Ordinal);
        Assert.Equal(("straight", "alpha", "auto", "Build a thing"), (run.Profile, run.ProjectName, run.Mode, run.Intake));
        Assert.Equal("bootstrap-admin", run.CreatedBy);
        Assert.Equal(3, run.Phases.Count);
    }

    public static TheoryData<string, string> BadCreateBodies() => new()
    {
        { "{}", "profile" },
        { "{}", "intake" },
        { """{"profile":"nope","intake":"x"}""", "profile" },
        { """{"profile":"straight","intake":"   "}""", "intake" },
        { """{"profile":"straight","intake":"x","mode":"sometimes"}""", "mode" },
        { """{"profile":"straight","intake":"x","budget_usd":-1}""", "budget_usd" },
        { """{"profile":"straight","intake":"x","budget_usd":2000000}""", "budget_usd" },
        { $$"""{"profile":"straight","intake":"x","project_name":"{{new string('p', 201)}}"}""", "project_name" },
        { """{"profile":"straight","intake":"x","budget_usd":"lots"}""", "budget_usd" },
        { """{"profile":"straight","intake":"x","colour":"red"}""", "colour" },
        { """{"profile":""", "profile" },
        { "[1,2]", "body" },
        { "", "body" },
    };

    [Theory]
    [MemberData(nameof(BadCreateBodies))]
    public async Task Create_rejects_bad_input_with_field_errors(string json, string field)
    {
        var before = (await _client.ListRunsAsync()).Total;
        var response = await factory.Http().PostAsync("/api/runs", new StringContent(json, Encoding.UTF8, "application/json"));
        await AssertFieldErrorAsync(response, field);
        Assert.Equal(before, (await _client.ListRunsAsync()).Total);
    }

    [Fact]
    public async Task Create_refuses_an_oversized_intake_and_an_oversized_body_with_413()
    {
        var intake = new string('x', 1024 * 1024 + 1);
        var response = await factory.Http().PostAsJsonAsync("/api/runs", new { profile = "straight", intake });
        await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);

        var huge = new ByteArrayContent(new byte[5 * 1024 * 1024]);
        huge.Headers.ContentType = new("application/json");
        await ProblemAsync(await factory.Http().PostAsync("/api/runs", huge), HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Create_without_a_key_is_401_and_as_viewer_403()
    {
        var body = new { profile = "straight", intake = "x" };
        var anonymous = await factory.Http(token: null).PostAsJsonAsync("/api/runs", body);
        await ProblemAsync(anonymous, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
        await ProblemAsync(await factory.Http("bat_not-a-real-key").PostAsJsonAsync("/api/runs", body), HttpStatusCode.Unauthorized);
        var viewer = await factory.ClientAsAsync("viewer");
        await ProblemAsync(await viewer.Http.PostAsJsonAsync("/api/runs", body), HttpStatusCode.Forbidden);
        var op = await factory.ClientAsAsync("operator");
        var created = await op.CreateRunAsync(new CreateRunRequest("straight", "x"));
        Assert.Equal("test-operator", created.CreatedBy);
    }

    [Fact]
    public async Task Idempotency_key_replays_the_same_run_and_refuses_a_different_request()
    {
        var key = Guid.NewGuid().ToString();
        var first = await _client.CreateRunAsync(new CreateRunRequest("straight", "same"), key);
        var total = (await _client.ListRunsAsync()).Total;
        var second = await _client.CreateRunAsync(new CreateRunRequest("straight", "same"), key);
        Assert.Equal(first.RunId, second.RunId);
        Assert.Equal(total, (await _client.ListRunsAsync()).Total);

        var conflict = await Assert.ThrowsAsync<BatonApiException>(() => _client.CreateRunAsync(new CreateRunRequest("straight", "different"), key));
        Assert.Equal(HttpStatusCode.Conflict, conflict.Status);
        Assert.Contains(first.RunId, conflict.Detail, StringComparison.Ordinal);

        var tooLong = new HttpRequestMessage(HttpMethod.Post, "/api/runs") { Content = JsonContent.Create(new { profile = "straight", intake = "x" }) };
        tooLong.Headers.Add("Idempotency-Key", new string('k', 256));
        await AssertFieldErrorAsync(await factory.Http().SendAsync(tooLong), "Idempotency-Key");
    }

    [Fact]
    public async Task List_is_newest_first_filters_and_counts()
    {
        var project = "list-" + Guid.NewGuid().ToString("N")[..8];
        var a = await CompletedRunAsync(project: project);
        var b = await CompletedRunAsync(project: project);
        var gated = await _client.CreateRunAsync(new CreateRunRequest("gated", "x", project));
        await _client.WaitForGateAsync(gated.RunId, "draft", 1);

        var all = await _client.ListRunsAsync(project: project);
        Assert.Equal(3, all.Total);
        Assert.Equal([gated.RunId, b.RunId, a.RunId], all.Runs.Select(r => r.RunId));

        var completed = await _client.ListRunsAsync(status: "completed", project: project, limit: 1, offset: 1);
        Assert.Equal((2L, 1, 1), (completed.Total, completed.Limit, completed.Offset));
        Assert.Equal(a.RunId, Assert.Single(completed.Runs).RunId);

        var waiting = await _client.ListRunsAsync(status: "awaiting_approval", profile: "gated", project: project);
        var summary = Assert.Single(waiting.Runs);
        Assert.Equal(("draft", "gate", 1), (summary.CurrentPhase, summary.WaitingFor, summary.Iteration));
        Assert.Equal(0, (await _client.ListRunsAsync(profile: "nope")).Total);
    }

    [Theory]
    [InlineData("status=bogus", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=1.5", "offset")]
    public async Task List_rejects_bad_query_parameters(string query, string field) =>
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs?{query}"), field);

    [Theory]
    [InlineData("GET", "/api/runs/run_nope")]
    [InlineData("PATCH", "/api/runs/run_nope")]
    [InlineData("POST", "/api/runs/run_nope/next")]
    [InlineData("POST", "/api/runs/run_nope/approve")]
    [InlineData("POST", "/api/runs/run_nope/cancel")]
    [InlineData("POST", "/api/runs/run_nope/retry")]
    [InlineData("GET", "/api/runs/run_nope/artifacts")]
    [InlineData("GET", "/api/runs/run_nope/artifacts/prd.md")]
    [InlineData("GET", "/api/runs/run_nope/metrics")]
    [InlineData("GET", "/api/runs/run_nope/logs")]
    [InlineData("GET", "/api/runs/run_nope/events")]
    [InlineData("GET", "/api/profiles/nope")]
    public async Task Unknown_ids_are_404(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET")
        {
            request.Content = method == "PATCH" ? JsonContent.Create(new { project_name = "x" }) : JsonContent.Create(new { });
        }
        var body = await ProblemAsync(await factory.Http().SendAsync(request), HttpStatusCode.NotFound);
        Assert.Contains("nope", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reject_needs_feedback_and_an_allowed_target()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        await AssertFieldErrorAsync(await factory.Http().PostAsJsonAsync($"/api/runs/{run.RunId}/reject", new { }), "feedback");
        await AssertFieldErrorAsync(await factory.Http().PostAsJsonAsync($"/api/runs/{run.RunId}/reject", new { feedback = " " }), "feedback");
        await AssertFieldErrorAsync(await factory.Http().PostAsJsonAsync($"/api/runs/{run.RunId}/reject", new { feedback = "x", reject_to = "publish" }), "reject_to");
        await AssertFieldErrorAsync(await factory.Http().PostAsJsonAsync($"/api/runs/{run.RunId}/approve", new { comment = new string('c', 70_000) }), "comment");
        await AssertFieldErrorAsync(await factory.Http().PostAsync($"/api/runs/{run.RunId}/approve", new StringContent("{oops", Encoding.UTF8, "application/json")), "body");
        Assert.Equal("awaiting_approval", (await _client.GetRunAsync(run.RunId)).Status);
    }

    [Fact]
    public async Task Invalid_transitions_are_409_naming_the_current_status()
    {
        var done = await CompletedRunAsync();
        foreach (var action in new Func<Task>[]
        {
            () => _client.ApproveAsync(done.RunId),
            () => _client.RejectAsync(done.RunId, "again"),
            () => _client.NextAsync(done.RunId),
            () => _client.CancelAsync(done.RunId),
            () => _client.RetryAsync(done.RunId),
        })
        {
            var ex = await Assert.ThrowsAsync<BatonApiException>(action);
            Assert.Equal((HttpStatusCode.Conflict, "completed"), (ex.Status, ex.CurrentStatus));
            Assert.Contains("completed", ex.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Roles_decide_who_may_act()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        await _client.WaitForGateAsync(run.RunId, "draft", 1);
        var viewer = await factory.ClientAsAsync("viewer");
        var op = await factory.ClientAsAsync("operator");
        var approver = await factory.ClientAsAsync("approver");

        Assert.Equal(run.RunId, (await viewer.GetRunAsync(run.RunId)).RunId);
        foreach (var (client, action) in new (BatonClient, Func<BatonClient, Task>)[]
        {
            (viewer, c => c.CancelAsync(run.RunId)),
            (viewer, c => c.NextAsync(run.RunId)),
            (op, c => c.ApproveAsync(run.RunId)),
            (op, c => c.RejectAsync(run.RunId, "x")),
            (op, c => c.NextAsync(run.RunId, skipValidation: true)),
            (approver, c => c.CreateKeyAsync(new CreateKeyRequest("k", "viewer"))),
        })
        {
            var ex = await Assert.ThrowsAsync<BatonApiException>(() => action(client));
            Assert.Equal(HttpStatusCode.Forbidden, ex.Status);
        }
        var approved = await approver.ApproveAsync(run.RunId, "fine by me");
        var phase = approved.Phases.Single(p => p.Name == "draft");
        Assert.Equal(("approved", "test-approver", "fine by me"), (phase.Approval!.Status, phase.Approval.Actor, phase.Approval.Comment));
    }

    [Fact]
    public async Task Artifacts_have_a_manifest_and_content_by_iteration()
    {
        var run = await CompletedRunAsync();
        var manifest = await _client.ListArtifactsAsync(run.RunId);
        Assert.Equal(["one", "two", "three"], manifest.Phases.Select(p => p.Phase));
        var one = manifest.Phases[0].Artifacts.Single();
        Assert.Equal(("one.md", 1, "text/markdown; charset=utf-8"), (one.Name, one.Iteration, one.MediaType));
        Assert.Equal(64, one.Sha256.Length);

        var response = await factory.Http().GetAsync($"/api/runs/{run.RunId}/artifacts/one.md?iteration=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("X-Baton-Iteration").Single());
        var content = await response.Content.ReadAsStringAsync();
        Assert.Contains("Ship it", content, StringComparison.Ordinal);
        Assert.Equal(one.Size, Encoding.UTF8.GetByteCount(content));

        await ProblemAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/artifacts/nope.md"), HttpStatusCode.NotFound);
        await ProblemAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/artifacts/one.md?iteration=9"), HttpStatusCode.NotFound);
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/artifacts/one.md?iteration=0"), "iteration");
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/artifacts/one.md?iteration=x"), "iteration");
    }

    [Fact]
    public async Task Metrics_and_logs_describe_the_run()
    {
        var run = await CompletedRunAsync();
        var metrics = await _client.GetMetricsAsync(run.RunId);
        Assert.Equal((3, 1, 0, 0, 0m, 0L), (metrics.Executions, metrics.Iterations, metrics.Approvals, metrics.Rejections, metrics.CostUsd, metrics.TokensUsed));
        Assert.Equal(["one", "two", "three"], metrics.Phases.Select(p => p.Phase));

        var logs = await _client.GetLogsAsync(run.RunId, lines: 2);
        Assert.Equal(2, logs.Lines.Count);
        Assert.Contains("three.md", logs.Lines[^1].Message, StringComparison.Ordinal);
        Assert.True(logs.Lines[0].Seq < logs.Lines[1].Seq);

        var after = await factory.Http().GetFromJsonAsync<Client.RunLogs>($"/api/runs/{run.RunId}/logs?after={logs.Lines[0].Seq}", BatonJson.Options);
        Assert.Equal([logs.Lines[1].Seq], after!.Lines.Select(l => l.Seq));
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/logs?after=-1"), "after");
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/logs?lines=0"), "lines");
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/logs?lines=10001"), "lines");
        await AssertFieldErrorAsync(await factory.Http().GetAsync($"/api/runs/{run.RunId}/logs?lines=many"), "lines");
    }

    [Fact]
    public async Task Events_stream_in_order_end_with_the_run_and_resume_after_last_event_id()
    {
        var run = await CompletedRunAsync();
        var events = await _client.EventsOfAsync(run.RunId);
        Assert.Equal("run.created", events[0].Type);
        Assert.Equal("run.completed", events[^1].Type);
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
        Assert.Equal(3, events.Count(e => e.Type == "phase.completed"));
        Assert.All(events, e => Assert.Equal(run.RunId, e.RunId));

        var resumed = await _client.EventsOfAsync(run.RunId, lastEventId: events[3].Seq);
        Assert.Equal(events.Skip(4).Select(e => e.Seq), resumed.Select(e => e.Seq));

        var bad = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{run.RunId}/events");
        bad.Headers.Add("Last-Event-ID", "yesterday");
        await AssertFieldErrorAsync(await factory.Http().SendAsync(bad), "Last-Event-ID");
    }

    [Fact]
    public async Task The_all_runs_stream_carries_events_of_every_run()
    {
        var a = await CompletedRunAsync();
        var b = await CompletedRunAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new HashSet<string>();
        await foreach (var e in _client.StreamAllEventsAsync(lastEventId: 0, ct: timeout.Token))
        {
            seen.Add(e.RunId);
            if (seen.Contains(a.RunId) && seen.Contains(b.RunId))
            {
                break;
            }
        }
        Assert.Contains(a.RunId, seen);
        Assert.Contains(b.RunId, seen);
    }

    [Fact]
    public async Task Patch_reports_external_phases_and_renames_the_project()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("handoff", "x"));
        var waiting = await _client.WaitForAsync(run.RunId, r => r.CurrentPhase == "build" && r.WaitingFor == "external", "waiting for the external build");
        var reached = waiting.StepTimestamps["build"];

        var again = await _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "running"));
        Assert.Equal(reached, again.StepTimestamps["build"]);

        var wrongStep = await Assert.ThrowsAsync<BatonApiException>(() => _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "plan", Status: "completed")));
        Assert.Equal((HttpStatusCode.Conflict, "running"), (wrongStep.Status, wrongStep.CurrentStatus));
        await AssertFieldErrorAsync(await factory.Http().PatchAsJsonAsync($"/api/runs/{run.RunId}", new { current_step = "nope", status = "completed" }), "current_step");
        await AssertFieldErrorAsync(await factory.Http().PatchAsJsonAsync($"/api/runs/{run.RunId}", new { status = "done" }), "status");
        await AssertFieldErrorAsync(await factory.Http().PatchAsJsonAsync($"/api/runs/{run.RunId}", new { }), "body");

        var renamed = await _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(ProjectName: "renamed-" + run.RunId));
        Assert.Equal("renamed-" + run.RunId, renamed.ProjectName);
        Assert.Equal(1, (await _client.ListRunsAsync(project: "renamed-" + run.RunId)).Total);

        await _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "completed"));
        var done = await _client.WaitForStatusAsync(run.RunId, "completed");
        Assert.Equal(["plan", "build", "wrap"], done.StepTimestamps.Keys);
        Assert.Equal(reached, done.StepTimestamps["build"]);

        var late = await Assert.ThrowsAsync<BatonApiException>(() => _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "failed")));
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
    }

    [Fact]
    public async Task A_stale_if_match_is_409_and_a_malformed_one_400()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        var gate = await _client.WaitForGateAsync(run.RunId, "draft", 1);
        var stale = await Assert.ThrowsAsync<BatonApiException>(() => _client.ApproveAsync(run.RunId, expectedVersion: gate.Version - 1));
        Assert.Equal((HttpStatusCode.Conflict, "awaiting_approval"), (stale.Status, stale.CurrentStatus));

        var bad = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{run.RunId}/approve");
        bad.Headers.TryAddWithoutValidation("If-Match", "\"latest\"");
        await AssertFieldErrorAsync(await factory.Http().SendAsync(bad), "If-Match");

        var response = await factory.Http().GetAsync($"/api/runs/{run.RunId}");
        Assert.Equal($"\"v{gate.Version}\"", response.Headers.ETag?.ToString());
        Assert.Equal("running", (await _client.ApproveAsync(run.RunId, expectedVersion: gate.Version)).Status);
    }
}
