using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Agents;

public sealed class AgentRuntimeApiTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();
    private readonly BatonClient _client;

    public AgentRuntimeApiTests() => _client = _factory.Client();

    private async Task<(WorkerInfo Worker, WorkItemInfo Item)> SetUpAsync(string script = "implement.sh", int concurrency = 0)
    {
        var worker = await _client.CreateWorkerAsync(new CreateWorkerRequest($"w-{Guid.NewGuid():N}"[..20], "command", [_repo.ScriptPath(script)], Concurrency: concurrency));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Implement slugify", "Make test_slugify pass", repo.RepositoryId));
        return (worker, item);
    }

    private async Task<ExecutionInfo> WaitAsync(string id, Func<ExecutionInfo, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var signals = _factory.Service<Baton.Engine.EngineSignals>();
        while (true)
        {
            var wake = signals.Events.Current;
            var execution = await _client.GetExecutionAsync(id, timeout.Token);
            if (done(execution))
            {
                return execution;
            }
            await wake.WaitAsync(timeout.Token);
        }
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Execute_runs_the_worker_in_a_workspace_of_the_work_items_repository()
    {
        var (worker, item) = await SetUpAsync();
        var response = await _factory.Http().PostAsJsonAsync("/api/agent-runtime/execute", new { worker_id = worker.WorkerId, work_item_id = item.WorkItemId, prompt = "Implement slugify" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<ExecuteResponse>(BatonJson.Options))!.ExecutionId;
        Assert.Equal($"/api/agent-runtime/executions/{id}", response.Headers.Location?.ToString());

        var done = await WaitAsync(id, e => e.Status is "success" or "error" or "cancelled");
        Assert.Equal("success", done.Status);
        Assert.Equal((worker.WorkerId, item.WorkItemId, (string?)null), (done.WorkerId, done.WorkItemId, done.TemplateId));
        Assert.Equal("slugify implemented", done.Output.Summary);
        Assert.Equal(["textutil.py"], done.Output.FilesChanged);
        Assert.Equal((false, false, (TestCounts?)null), (done.Output.TestsRun, done.Output.TestsPassed, done.Output.Tests));
        Assert.Contains("+    return \"-\".join(text.lower().split())", done.Output.Diff, StringComparison.Ordinal);
        Assert.Contains(done.Output.Logs, l => l.StartsWith("implementing slugify in ", StringComparison.Ordinal));
        Assert.Equal((1500L, 0.0125m, 4), (done.TokensUsed, done.CostUsd, done.ToolCallsCount));
        Assert.NotNull(done.StartedAt);
        Assert.True(done.CompletedAt >= done.StartedAt);
        Assert.NotNull(done.DurationMs);

        var workspace = Assert.Single((await _client.ListWorkspacesAsync()).Workspaces);
        Assert.Equal(($"baton/{id}", id, "active"), (workspace.Branch, workspace.OwnerId, workspace.Status));
        Assert.Contains("slugify", _repo.Git("log", "--format=%s", $"baton/{id}"), StringComparison.Ordinal);
        Assert.Contains("return \"-\".join", _repo.Git("show", $"baton/{id}:textutil.py"), StringComparison.Ordinal);
        Assert.DoesNotContain("join", File.ReadAllText(Path.Combine(_repo.Path, "textutil.py")), StringComparison.Ordinal);

        var deleted = await _client.DeleteWorkspaceAsync(workspace.Id);
        Assert.Equal("deleted", deleted.Status);
        Assert.False(Directory.Exists(workspace.Path));
        Assert.Empty((await _client.ListWorkspacesAsync()).Workspaces);
        Assert.Contains($"baton/{id}", _repo.Git("branch", "--list", $"baton/{id}"), StringComparison.Ordinal);
    }

    private async Task<JsonElement> OutputAsync(string executionId) =>
        (await _factory.Http().GetFromJsonAsync<JsonElement>($"/api/agent-runtime/executions/{executionId}")).GetProperty("output");

    private static List<string?> Paths(JsonElement output) => output.GetProperty("files_changed").EnumerateArray().Select(p => p.GetString()).ToList();

    private async Task<JsonElement> StandaloneOutputAsync(string script)
    {
        var (worker, item) = await SetUpAsync(script);
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "change things"))).ExecutionId;
        var done = await WaitAsync(id, e => e.Status is "success" or "error" or "cancelled");
        Assert.True(done.Status == "success", done.ErrorMessage);
        return await OutputAsync(id);
    }

    [Fact]
    public async Task The_output_has_seed_003s_shapes_the_changed_paths_and_tests_as_booleans_with_counts_apart()
    {
        var output = await StandaloneOutputAsync("implement.sh");

        Assert.Equal(["textutil.py"], Paths(output));
        // A standalone execution runs no check: no tests ran, so none passed, and there are no counts.
        Assert.Equal(JsonValueKind.False, output.GetProperty("tests_run").ValueKind);
        Assert.Equal(JsonValueKind.False, output.GetProperty("tests_passed").ValueKind);
        Assert.Equal(JsonValueKind.Null, output.GetProperty("tests").ValueKind);
        Assert.Equal("slugify implemented", output.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task Files_changed_lists_every_path_as_it_is_whatever_its_name_deleted_and_renamed_ones_too()
    {
        var output = await StandaloneOutputAsync("odd-names.sh");

        Assert.Equal(
            new[] { "with space.txt", "new\nline.txt", "quote\".txt", "ünïcode.txt", "bad\uFFFDname.txt", "-dash.txt", "deep/er/file.txt", "test_textutil.py", ".gitignore", "gitignore.txt" }.Order(StringComparer.Ordinal),
            Paths(output).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Files_changed_lists_at_most_ten_thousand_paths()
    {
        var output = await StandaloneOutputAsync("many-files.sh");

        var paths = Paths(output);
        Assert.Equal(10_000, paths.Count);
        Assert.All(paths, p => Assert.StartsWith("many/f", p, StringComparison.Ordinal));
        Assert.Contains("many/f0", paths);
    }

    [Theory]
    [InlineData("implement.sh", "[python3, -m, unittest]", true, 2, 2)]
    [InlineData("env.sh", "[python3, -m, unittest]", false, 2, 1)]
    // A check that fails with every test it reported passing did not pass; one that reports no counts still ran.
    [InlineData("implement.sh", "[sh, -c, 'echo 3 passed; exit 1']", false, 3, 3)]
    [InlineData("implement.sh", "[sh, -c, 'echo all good']", true, null, null)]
    public async Task A_phase_executions_output_has_its_checks_tests(string script, string check, bool passed, int? total, int? passing)
    {
        await _client.CreateWorkerAsync(new CreateWorkerRequest("implementer", "command", [_repo.ScriptPath(script)]));
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "checked.yaml"), """
            name: checked
            max_iterations: 1
            phases:
              - name: implementation
                worker: implementer
                check: {{check}}
            """.Replace("{{check}}", check, StringComparison.Ordinal));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var run = await _client.CreateRunAsync(new CreateRunRequest("checked", "slugify", RepositoryId: repo.RepositoryId));
        await _client.WaitForStatusAsync(run.RunId, passed ? "completed" : "failed");
        var id = await _factory.Service<Baton.Storage.Database>().ReadAsync(c =>
            c.QuerySingleAsync<string>("SELECT id FROM executions WHERE run_id = @runId", new { runId = run.RunId }));

        var output = await OutputAsync(id);

        Assert.Equal(script == "implement.sh" ? ["textutil.py"] : [], Paths(output));
        Assert.True(output.GetProperty("tests_run").GetBoolean());
        Assert.Equal(passed, output.GetProperty("tests_passed").GetBoolean());
        var tests = output.GetProperty("tests");
        if (total is null)
        {
            Assert.Equal(JsonValueKind.Null, tests.ValueKind);
            return;
        }
        Assert.Equal((total, passing, total - passing), (tests.GetProperty("total").GetInt32(), tests.GetProperty("passed").GetInt32(), tests.GetProperty("failed").GetInt32()));
    }

    /// <summary>Every event of the execution's stream, which ends once the execution has ended.</summary>
    private async Task<List<RunEventInfo>> EventsAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<RunEventInfo>();
        await foreach (var e in _client.StreamExecutionEventsAsync(id, ct: timeout.Token))
        {
            events.Add(e);
        }
        return events;
    }

    private static List<(string Type, string? Status, string? Error)> StatusChanges(List<RunEventInfo> events) =>
        events.Where(e => e.Type != "log").Select(e => (e.Type, e.Data?.GetProperty("status").GetString(), e.Data?.GetProperty("error_message").GetString())).ToList();

    [Theory]
    [InlineData("implement.sh", "execution.succeeded", "success", null)]
    [InlineData("fail.sh", "execution.failed", "error", "fail.sh exited with code 3: about to fail")]
    public async Task Every_status_change_is_an_event_of_the_executions_stream_which_ends_with_it(string script, string last, string status, string? error)
    {
        var (worker, item) = await SetUpAsync(script);
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;

        var events = await EventsAsync(id);

        Assert.Equal([("execution.created", "pending", null), ("execution.started", "running", null), (last, status, error)], StatusChanges(events));
        Assert.All(events, e => Assert.Equal(id, e.RunId));
        Assert.Equal(status, (await _client.GetExecutionAsync(id)).Status);
        // The log lines come between the start and the end, in order, under the same resumable ids.
        var started = events.FindIndex(e => e.Type == "execution.started");
        Assert.Contains(events.Skip(started + 1).TakeWhile(e => e.Type == "log"), e => e.Data!.Value.GetProperty("message").GetString() == $"running worker {worker.Name} (command)");
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
        // Resuming after the start replays only what came after it.
        var resumed = new List<RunEventInfo>();
        await foreach (var e in _client.StreamExecutionEventsAsync(id, events[started].Seq))
        {
            resumed.Add(e);
        }
        Assert.Equal(events.Skip(started + 1).Select(e => e.Seq), resumed.Select(e => e.Seq));
    }

    [Fact]
    public async Task A_cancel_is_an_event_and_a_watcher_of_a_running_execution_sees_it_live()
    {
        var (worker, item) = await SetUpAsync("tree.sh");
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<RunEventInfo>();
        var cancelled = false;
        await foreach (var e in _client.StreamExecutionEventsAsync(id, ct: timeout.Token))
        {
            seen.Add(e);
            if (!cancelled && e.Type == "log" && e.Data!.Value.GetProperty("message").GetString() == "started tree")
            {
                cancelled = true;
                await _client.CancelExecutionAsync(id);
            }
        }

        Assert.True(cancelled);
        Assert.Equal(("execution.cancelled", "cancelled", "cancelled"), StatusChanges(seen)[^1]);
    }

    [Fact]
    public async Task The_event_stream_of_an_unknown_execution_or_a_phases_is_404_and_a_bad_last_event_id_is_400()
    {
        var (worker, item) = await SetUpAsync();
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;
        await EventsAsync(id);
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "one.yaml"), $"name: one\nphases:\n  - name: only\n    worker: {worker.Name}\n");
        var run = await _client.CreateRunAsync(new CreateRunRequest("one", "x"));
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var phaseExecution = await _factory.Service<Baton.Storage.Database>().ReadAsync(c =>
            c.QuerySingleAsync<string>("SELECT id FROM executions WHERE run_id = @runId", new { runId = run.RunId }));

        await ProblemAsync(await _factory.Http().GetAsync("/api/agent-runtime/executions/exe_nope/events"), HttpStatusCode.NotFound);
        await ProblemAsync(await _factory.Http().GetAsync($"/api/agent-runtime/executions/{phaseExecution}/events"), HttpStatusCode.NotFound);
        var bad = new HttpRequestMessage(HttpMethod.Get, $"/api/agent-runtime/executions/{id}/events");
        bad.Headers.Add("Last-Event-ID", "-1");
        var problem = await ProblemAsync(await _factory.Http().SendAsync(bad), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("Last-Event-ID", out _), problem.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _factory.Http(token: null).GetAsync($"/api/agent-runtime/executions/{id}/events")).StatusCode);
    }

    [Fact]
    public async Task The_dashboard_page_of_a_running_execution_follows_its_events_and_of_an_ended_one_does_not()
    {
        var (worker, item) = await SetUpAsync("tree.sh");
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;
        await WaitAsync(id, e => e.Output.Logs.Contains("started tree"));
        using var browser = await Baton.Tests.Dashboard.Browser.SignedInAsync(_factory, "viewer");

        var page = await browser.GetAsync($"/executions/{id}");
        Assert.Matches($"<div id=\"live\" data-events=\"/executions/{id}/events\" data-url=\"/executions/{id}\" data-last-event=\"[1-9][0-9]*\" data-logs=\"refresh\" data-finished=\"false\">", page.Html);
        Assert.Contains("/dashboard/live.js", page.Html, StringComparison.Ordinal);
        var lastEvent = System.Text.RegularExpressions.Regex.Match(page.Html, "data-last-event=\"([0-9]+)\"").Groups[1].Value;

        // The page's stream: from what the page shows on, the cancel comes as it happens, unnamed (the page's script
        // refreshes on those), and the stream ends with the execution.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await browser.Raw.GetAsync($"/executions/{id}/events?last_event_id={lastEvent}", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        await _client.CancelExecutionAsync(id);
        var rest = await reader.ReadToEndAsync(timeout.Token);
        Assert.Contains("\"type\":\"execution.cancelled\"", rest, StringComparison.Ordinal);
        Assert.DoesNotContain("\"type\":\"execution.started\"", rest, StringComparison.Ordinal);
        Assert.DoesNotContain("event: execution.", rest, StringComparison.Ordinal);

        var ended = await browser.GetAsync($"/executions/{id}");
        Assert.Contains("data-finished=\"true\"", ended.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.Raw.GetAsync("/executions/exe_nope/events")).StatusCode);
    }

    [Theory]
    [InlineData("""{"work_item_id":"x","prompt":"p"}""", "worker_id")]
    [InlineData("""{"worker_id":"x","prompt":"p"}""", "work_item_id")]
    [InlineData("""{"worker_id":"x","work_item_id":"y"}""", "prompt")]
    [InlineData("""{"worker_id":"x","work_item_id":"y","prompt":""}""", "prompt")]
    [InlineData("""{"worker_id":7,"work_item_id":"y","prompt":"p"}""", "worker_id")]
    [InlineData("""{"worker_id":"x",""", "body")]
    public async Task Execute_with_a_missing_or_malformed_field_is_400(string json, string field)
    {
        var response = await _factory.Http().PostAsync("/api/agent-runtime/execute", new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Execute_with_an_oversized_prompt_is_413()
    {
        var (worker, item) = await SetUpAsync();
        var response = await _factory.Http().PostAsJsonAsync("/api/agent-runtime/execute",
            new { worker_id = worker.WorkerId, work_item_id = item.WorkItemId, prompt = new string('p', 1024 * 1024 + 1) });
        await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Unknown_worker_work_item_execution_and_workspace_are_404()
    {
        var (worker, item) = await SetUpAsync();
        var noWorker = await Assert.ThrowsAsync<BatonApiException>(() => _client.ExecuteAsync(new ExecuteRequest("wkr_nope", item.WorkItemId, "p")));
        Assert.Equal(HttpStatusCode.NotFound, noWorker.Status);
        Assert.Contains("worker", noWorker.Detail, StringComparison.Ordinal);
        var noItem = await Assert.ThrowsAsync<BatonApiException>(() => _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, "wki_nope", "p")));
        Assert.Equal(HttpStatusCode.NotFound, noItem.Status);
        Assert.Contains("work item", noItem.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<BatonApiException>(() => _client.GetExecutionAsync("exe_nope"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<BatonApiException>(() => _client.CancelExecutionAsync("exe_nope"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<BatonApiException>(() => _client.DeleteWorkspaceAsync("wsp_nope"))).Status);
    }

    [Fact]
    public async Task Cancel_of_a_running_execution_stops_it_and_of_a_pending_one_keeps_it_from_starting()
    {
        var (worker, item) = await SetUpAsync("tree.sh", concurrency: 1);
        var first = (await _client.ExecuteAsync(new ExecuteRequest(worker.Name, item.WorkItemId, "run forever"))).ExecutionId;
        await WaitAsync(first, e => e.Output.Logs.Contains("started tree"));
        var second = (await _client.ExecuteAsync(new ExecuteRequest(worker.Name, item.WorkItemId, "wait your turn"))).ExecutionId;
        Assert.Equal("pending", (await _client.GetExecutionAsync(second)).Status);

        var cancelledPending = await _client.CancelExecutionAsync(second);
        Assert.Equal("cancelled", cancelledPending.Status);
        Assert.Null(cancelledPending.StartedAt);

        // Seen from the host (inside the sandbox the agent has its own pids): bwrap, init, the parent and its child.
        var pids = AgentProcesses.Of(first);
        Assert.True(pids.Count >= 3, $"agent processes: {string.Join(' ', pids)}");
        var cancelledRunning = await _client.CancelExecutionAsync(first);
        Assert.Equal("cancelled", cancelledRunning.Status);
        // The answer comes once the work has stopped: the parent and its SIGTERM-ignoring child are gone.
        // Looked up again by the execution's id rather than by the pids seen before: a short-lived `sleep` among them
        // may have exited on its own and its pid been reused by another test's process.
        Assert.Empty(AgentProcesses.Of(first));
        Assert.Equal("cancelled", (await _client.GetExecutionAsync(second)).Status);
    }

    [Theory]
    [InlineData("implement.sh", "success")]
    [InlineData("fail.sh", "error")]
    public async Task Cancel_of_a_finished_execution_is_409(string script, string status)
    {
        var (worker, item) = await SetUpAsync(script);
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;
        var done = await WaitAsync(id, e => e.Status is "success" or "error");
        Assert.Equal(status, done.Status);
        if (status == "error")
        {
            Assert.Equal("fail.sh exited with code 3: about to fail", done.ErrorMessage);
        }
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => _client.CancelExecutionAsync(id));
        Assert.Equal((HttpStatusCode.Conflict, status), (ex.Status, ex.CurrentStatus));
    }

    [Fact]
    public async Task Cancel_of_a_cancelled_execution_is_409()
    {
        var (worker, item) = await SetUpAsync("tree.sh");
        var id = (await _client.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p"))).ExecutionId;
        await _client.CancelExecutionAsync(id);
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => _client.CancelExecutionAsync(id));
        Assert.Equal((HttpStatusCode.Conflict, "cancelled"), (ex.Status, ex.CurrentStatus));
    }

    [Fact]
    public async Task The_workspace_list_is_empty_before_any_work()
    {
        var list = await _factory.Http().GetFromJsonAsync<JsonElement>("/api/agent-runtime/workspaces");
        Assert.Equal(0, list.GetProperty("workspaces").GetArrayLength());
    }

    [Fact]
    public async Task Roles_apply_to_the_agent_runtime()
    {
        var (worker, item) = await SetUpAsync();
        var viewer = await _factory.ClientAsAsync("viewer");
        Assert.Equal(HttpStatusCode.Forbidden, (await Assert.ThrowsAsync<BatonApiException>(() => viewer.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "p")))).Status);
        var op = await _factory.ClientAsAsync("operator");
        Assert.Equal(HttpStatusCode.Forbidden, (await Assert.ThrowsAsync<BatonApiException>(() => op.CreateWorkerAsync(new CreateWorkerRequest("sneaky", "command", ["/bin/sh"])))).Status);
        Assert.NotNull(await viewer.ListWorkspacesAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _factory.Http(token: null).GetAsync("/api/agent-runtime/workspaces")).StatusCode);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
