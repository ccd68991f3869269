using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Runs;

/// <summary>
/// Retry from a phase and fork (issue 13 item 6, ADR 38) on a real git repository: a command worker writes one file per
/// phase and iteration, so what a reset discards, and where a fork's branch starts, shows in git.
/// </summary>
public sealed class RetryAndForkGitTests : IDisposable
{
    /// <summary>Each phase writes `PHASE-ITERATION.txt` and an artifact; `verify` fails in iteration 1 of an intake that says "broken".</summary>
    private const string Stepper = """
        #!/bin/sh
        echo "$BATON_PHASE in iteration $BATON_ITERATION" > "$BATON_PHASE-$BATON_ITERATION.txt"
        echo "notes of $BATON_PHASE in iteration $BATON_ITERATION" > "$BATON_ARTIFACTS_DIR/$BATON_PHASE.md"
        if [ "$BATON_PHASE" = verify ] && [ "$BATON_ITERATION" = 1 ] && grep -q broken "$BATON_PROMPT_FILE"; then
          echo "verify: the intake is broken" >&2
          exit 3
        fi
        """;

    private const string Chain = """
        name: chain
        phases:
          - name: plan
            worker: stepper
            prompt: "{{intake}}"
            produces: [plan.md]
            max_attempts: 1
          - name: build
            worker: stepper
            prompt: "{{intake}}"
            produces: [build.md]
            max_attempts: 1
          - name: verify
            worker: stepper
            prompt: "{{intake}}"
            produces: [verify.md]
            max_attempts: 1
        """;

    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string> { ["chain"] = Chain });

    private async Task<(BatonClient Client, RunDetail Failed)> FailedRunAsync()
    {
        var client = _factory.Client();
        var script = _repo.ScriptPath("stepper.sh");
        await File.WriteAllTextAsync(script, Stepper + "\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await client.CreateWorkerAsync(new CreateWorkerRequest("stepper", "command", [script]));
        var repo = await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", _repo.Path));
        var run = await client.CreateRunAsync(new CreateRunRequest("chain", "this intake is broken", RepositoryId: repo.RepositoryId));
        var failed = await client.WaitForStatusAsync(run.RunId, "failed");
        Assert.True((failed.CurrentPhase, failed.Iteration) == ("verify", 1), failed.Error);
        return (client, failed);
    }

    /// <summary>The commit of a phase's iteration on the run's branch, by its subject ("baton: PHASE (run R, iteration N)").</summary>
    private string CommitOf(string runId, string phase, int iteration) =>
        _repo.Git("log", "--format=%H", "--fixed-strings", $"--grep=baton: {phase} (run {runId}, iteration {iteration})", "--all").Trim().Split('\n')[0];

    private string[] FilesAt(string rev) => _repo.Git("ls-tree", "--name-only", rev).Trim().Split('\n');

    [Fact]
    public async Task A_retry_from_an_earlier_phase_resets_the_workspace_to_its_base_commit_and_runs_on_as_a_new_iteration()
    {
        var (client, failed) = await FailedRunAsync();
        var branch = $"baton/{failed.RunId}";
        var planCommit = CommitOf(failed.RunId, "plan", 1);
        var buildCommit = CommitOf(failed.RunId, "build", 1);
        Assert.Equal(planCommit, _repo.Git("rev-parse", buildCommit + "~1").Trim());

        var retried = await client.RetryAsync(failed.RunId, new RetryRequest("build"));
        Assert.Equal(("running", "build", 2), (retried.Status, retried.CurrentPhase, retried.Iteration));
        var done = await client.WaitForStatusAsync(failed.RunId, "completed");

        // build#1's commit is gone from the branch: build#2 was made on plan#1's commit, and its tree lacks build-1.txt.
        var rebuilt = CommitOf(failed.RunId, "build", 2);
        Assert.Equal(planCommit, _repo.Git("rev-parse", rebuilt + "~1").Trim());
        Assert.Throws<InvalidOperationException>(() => _repo.Git("merge-base", "--is-ancestor", buildCommit, branch));
        var files = FilesAt(branch);
        Assert.Contains("plan-1.txt", files);
        Assert.Contains("build-2.txt", files);
        Assert.Contains("verify-2.txt", files);
        Assert.DoesNotContain("build-1.txt", files);
        Assert.Equal(["verify", "build", "plan"], _repo.Git("log", "--format=%s", $"main..{branch}").Trim().Split('\n').Select(s => s.Split(' ')[1]));

        // The phases ran again as iteration 2; the failed attempt's iteration stays in the history.
        Assert.Contains(done.Phases, p => p is { Name: "verify", Iteration: 1, Status: "failed" });
        Assert.Contains(done.Phases, p => p is { Name: "build", Iteration: 2, Status: "completed" });
        Assert.Contains(done.Phases, p => p is { Name: "verify", Iteration: 2, Status: "completed" });
        Assert.Equal("notes of build in iteration 2", (await client.GetArtifactAsync(failed.RunId, "build.md")).Trim());
        var events = await client.EventsOfAsync(failed.RunId);
        var retry = Assert.Single(events, e => e.Type == "run.retried");
        Assert.Equal(("build", "bootstrap-admin"), (retry.Phase, retry.Actor));
        Assert.Equal("build", retry.Data!.Value.GetProperty("from_phase").GetString());
        Assert.Equal(planCommit, retry.Data!.Value.GetProperty("reset_to").GetString());
        Assert.Equal(2, retry.Data!.Value.GetProperty("iteration").GetInt32());
    }

    [Fact]
    public async Task A_fork_keeps_the_earlier_artifacts_and_starts_its_branch_at_the_phase_base_commit()
    {
        var (client, failed) = await FailedRunAsync();
        var parentBranch = $"baton/{failed.RunId}";
        var parentTip = _repo.Git("rev-parse", parentBranch).Trim();
        var planCommit = CommitOf(failed.RunId, "plan", 1);

        var response = await _factory.Http().PostAsJsonAsync($"/api/runs/{failed.RunId}/fork", new { at_phase = "build", intake = "this intake is fine" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var fork = (await response.Content.ReadFromJsonAsync<RunDetail>(BatonJson.Options))!;
        Assert.Equal($"/api/runs/{fork.RunId}", response.Headers.Location?.OriginalString);
        Assert.Equal((failed.RunId, "build"), (fork.ParentRunId, fork.ForkedAtPhase));
        Assert.Equal(("build", 1, "this intake is fine"), (fork.CurrentPhase, fork.Iteration, fork.Intake));

        var done = await client.WaitForStatusAsync(fork.RunId, "completed");
        Assert.Equal((failed.RunId, "build"), (done.ParentRunId, done.ForkedAtPhase));
        // plan is the parent's, kept; build and verify ran on the fork.
        Assert.Contains(done.Phases, p => p is { Name: "plan", Iteration: 1, Status: "completed" });
        Assert.Equal("notes of plan in iteration 1", (await client.GetArtifactAsync(fork.RunId, "plan.md")).Trim());
        Assert.Equal("notes of verify in iteration 1", (await client.GetArtifactAsync(fork.RunId, "verify.md")).Trim());
        Assert.Equal(["plan", "build", "verify"], (await client.ListArtifactsAsync(fork.RunId)).Phases.Select(p => p.Phase));

        // Its branch starts at build's base commit in the parent (plan#1's commit): two commits on top, and that is where
        // the two branches part.
        var forkBranch = $"baton/{fork.RunId}";
        Assert.Equal(planCommit, _repo.Git("rev-parse", forkBranch + "~2").Trim());
        Assert.Equal(planCommit, _repo.Git("merge-base", parentBranch, forkBranch).Trim());
        Assert.Contains("plan-1.txt", FilesAt(forkBranch));
        Assert.Throws<InvalidOperationException>(() => _repo.Git("merge-base", "--is-ancestor", CommitOf(failed.RunId, "build", 1), forkBranch));

        // The parent is as it was: failed, same version, same branch tip; it says nothing of its fork but the list's link.
        var parent = await client.GetRunAsync(failed.RunId);
        Assert.Equal(("failed", failed.Version), (parent.Status, parent.Version));
        Assert.Null(parent.ParentRunId);
        Assert.Equal(parentTip, _repo.Git("rev-parse", parentBranch).Trim());
        var listed = (await client.ListRunsAsync(profile: "chain")).Runs.Single(r => r.RunId == fork.RunId);
        Assert.Equal(failed.RunId, listed.ParentRunId);

        var forked = Assert.Single(await client.EventsOfAsync(fork.RunId), e => e.Type == "run.forked");
        Assert.Equal(failed.RunId, forked.Data!.Value.GetProperty("parent_run_id").GetString());
        Assert.Equal(planCommit, forked.Data!.Value.GetProperty("base_commit").GetString());
        Assert.True(forked.Data!.Value.GetProperty("intake_replaced").GetBoolean());
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}

/// <summary>The refusals of retry and fork, each naming its reason; and a fork of a run without a repository.</summary>
public sealed class RetryAndForkApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _client = factory.Client();

    /// <summary>A `handoff` run whose external `build` phase was reported failed: failed at build, iteration 1.</summary>
    private async Task<RunDetail> FailedAtBuildAsync()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("handoff", "x"));
        await _client.WaitForAsync(run.RunId, r => r.CurrentPhase == "build", "at build");
        await _client.UpdateRunAsync(run.RunId, new UpdateRunRequest(CurrentStep: "build", Status: "failed"));
        return await _client.WaitForStatusAsync(run.RunId, "failed");
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string mentions)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(mentions, text, StringComparison.Ordinal);
        return JsonDocument.Parse(text).RootElement;
    }

    private Task<HttpResponseMessage> PostAsync(string path, string json, string? token = BatonFactory.AdminToken) =>
        factory.Http(token).PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    [Theory]
    [InlineData("""{"from_phase": "nope"}""", "'nope' is not a phase of profile handoff")]
    [InlineData("""{"from_phase": "wrap"}""", "'wrap' comes after 'build', where the run stopped")]
    [InlineData("""{"from_phase": ""}""", "from_phase must be a phase name")]
    [InlineData("""{"from_phase": 7}""", "")]
    [InlineData("""{"from_phase": "build" """, "")]
    public async Task Retry_refuses_a_phase_it_cannot_go_back_to(string body, string reason)
    {
        var failed = await FailedAtBuildAsync();
        var problem = await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/retry", body), HttpStatusCode.BadRequest, reason);
        if (reason.Length > 0)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty("from_phase", out _), problem.ToString());
        }
        Assert.Equal(("failed", failed.Version), ((await _client.GetRunAsync(failed.RunId)).Status, (await _client.GetRunAsync(failed.RunId)).Version));
    }

    [Fact]
    public async Task Retry_refuses_an_oversized_phase_name_an_unknown_run_and_a_run_that_did_not_stop()
    {
        var failed = await FailedAtBuildAsync();
        await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/retry", JsonSerializer.Serialize(new { from_phase = new string('p', 65) })),
            HttpStatusCode.BadRequest, "from_phase must be a phase name");
        await ProblemAsync(await PostAsync("/api/runs/run_nope/retry", """{"from_phase": "plan"}"""), HttpStatusCode.NotFound, "run_nope");

        var completed = await _client.CreateRunAsync(new CreateRunRequest("straight", "x"));
        await _client.WaitForStatusAsync(completed.RunId, "completed");
        var conflict = await ProblemAsync(await PostAsync($"/api/runs/{completed.RunId}/retry", """{"from_phase": "one"}"""), HttpStatusCode.Conflict,
            "only a failed or cancelled run can be retried");
        Assert.Equal("completed", conflict.GetProperty("current_status").GetString());
    }

    [Fact]
    public async Task A_cancelled_run_is_retried_from_an_earlier_phase_as_a_new_iteration()
    {
        var run = await _client.CreateRunAsync(new CreateRunRequest("handoff", "x"));
        await _client.WaitForAsync(run.RunId, r => r.CurrentPhase == "build", "at build");
        await _client.CancelAsync(run.RunId, "wrong plan");

        var retried = await _client.RetryAsync(run.RunId, new RetryRequest("plan"));
        Assert.Equal(2, retried.Iteration);
        var again = await _client.WaitForAsync(run.RunId, r => r is { CurrentPhase: "build", Iteration: 2 }, "at build in iteration 2");
        Assert.Contains(again.Phases, p => p is { Name: "plan", Iteration: 2, Status: "completed" });
        Assert.Contains(again.Phases, p => p is { Name: "build", Iteration: 1, Status: "cancelled" });
        await _client.CancelAsync(run.RunId);
    }

    [Fact]
    public async Task A_fork_of_a_run_without_a_repository_keeps_the_earlier_artifacts_and_runs_the_rest()
    {
        var parent = await _client.CreateRunAsync(new CreateRunRequest("straight", "the parent's intake", "forks"));
        parent = await _client.WaitForStatusAsync(parent.RunId, "completed");

        var fork = await _client.ForkRunAsync(parent.RunId, new ForkRunRequest("two"));
        Assert.Equal((parent.RunId, "two", "the parent's intake"), (fork.ParentRunId, fork.ForkedAtPhase, fork.Intake));
        var done = await _client.WaitForStatusAsync(fork.RunId, "completed");
        Assert.Equal("forks", done.ProjectName);
        var manifest = await _client.ListArtifactsAsync(fork.RunId);
        var one = manifest.Phases.Single(p => p.Phase == "one").Artifacts.Single();
        var parentOne = (await _client.ListArtifactsAsync(parent.RunId)).Phases.Single(p => p.Phase == "one").Artifacts.Single();
        Assert.Equal(parentOne.Sha256, one.Sha256);
        Assert.Equal(["one", "two", "three"], manifest.Phases.Select(p => p.Phase));
        Assert.Equal("completed", (await _client.GetRunAsync(parent.RunId)).Status);
    }

    [Theory]
    [InlineData("{}", "at_phase", "at_phase is required")]
    [InlineData("""{"at_phase": "nope"}""", "at_phase", "'nope' is not a phase of profile handoff")]
    [InlineData("""{"at_phase": "wrap"}""", "at_phase", "'wrap' never ran in run")]
    [InlineData("""{"at_phase": "build", "intake": "  "}""", "intake", "intake, when given, must not be empty")]
    public async Task Fork_refuses_a_phase_it_cannot_start_at_naming_the_field(string body, string field, string reason)
    {
        var failed = await FailedAtBuildAsync();
        var problem = await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/fork", body), HttpStatusCode.BadRequest, reason);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Fork_refuses_bad_json_an_oversized_request_and_an_unknown_run()
    {
        var failed = await FailedAtBuildAsync();
        await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/fork", """{"at_phase": """), HttpStatusCode.BadRequest, "");
        await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/fork", JsonSerializer.Serialize(new { at_phase = new string('p', 65) })),
            HttpStatusCode.BadRequest, "at_phase is longer than 64 characters");
        await ProblemAsync(await PostAsync($"/api/runs/{failed.RunId}/fork", JsonSerializer.Serialize(new { at_phase = "build", intake = new string('x', 1024 * 1024 + 1) })),
            HttpStatusCode.RequestEntityTooLarge, "intake is larger than 1024 KiB");
        await ProblemAsync(await PostAsync("/api/runs/run_nope/fork", """{"at_phase": "plan"}"""), HttpStatusCode.NotFound, "run_nope");
        Assert.DoesNotContain((await _client.ListRunsAsync(profile: "handoff", limit: 200)).Runs, r => r.ParentRunId == failed.RunId);
    }

    [Fact]
    public async Task A_fork_with_an_Idempotency_Key_is_made_once_and_the_key_refuses_another_request()
    {
        var failed = await FailedAtBuildAsync();
        var key = Guid.NewGuid().ToString();

        var first = await _client.ForkRunAsync(failed.RunId, new ForkRunRequest("build"), key);
        var again = await _client.ForkRunAsync(failed.RunId, new ForkRunRequest("build"), key);
        var different = await Assert.ThrowsAsync<BatonApiException>(() => _client.ForkRunAsync(failed.RunId, new ForkRunRequest("build", "another intake"), key));
        var tooLong = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{failed.RunId}/fork")
        {
            Content = new StringContent("""{"at_phase": "build"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        tooLong.Headers.Add("Idempotency-Key", new string('k', 256));
        var problem = await ProblemAsync(await factory.Http().SendAsync(tooLong), HttpStatusCode.BadRequest, "Idempotency-Key");

        Assert.Equal(first.RunId, again.RunId);
        Assert.Single((await _client.ListRunsAsync(profile: "handoff", limit: 200)).Runs, r => r.ParentRunId == failed.RunId);
        Assert.Equal(HttpStatusCode.Conflict, different.Status);
        Assert.Contains(first.RunId, different.Detail, StringComparison.Ordinal);
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _), problem.ToString());
    }

    [Fact]
    public async Task Retry_and_fork_need_the_operator_role()
    {
        // The approver role ranks above operator (and may do both): a viewer is the role below.
        var failed = await FailedAtBuildAsync();
        var client = await factory.ClientAsAsync("viewer");
        var retry = await Assert.ThrowsAsync<BatonApiException>(() => client.RetryAsync(failed.RunId, new RetryRequest("plan")));
        Assert.Equal(HttpStatusCode.Forbidden, retry.Status);
        var fork = await Assert.ThrowsAsync<BatonApiException>(() => client.ForkRunAsync(failed.RunId, new ForkRunRequest("plan")));
        Assert.Equal(HttpStatusCode.Forbidden, fork.Status);
        Assert.Equal(("failed", failed.Version), ((await _client.GetRunAsync(failed.RunId)).Status, (await _client.GetRunAsync(failed.RunId)).Version));
    }
}
