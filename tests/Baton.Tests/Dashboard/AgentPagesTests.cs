using System.Net;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Dashboard;

/// <summary>The executions and workspaces pages, on real executions: standalone ones of command workers, and a run's phases.</summary>
public sealed class AgentPagesTests(ApiFactory factory) : IClassFixture<ApiFactory>, IDisposable
{
    private readonly BatonClient _admin = factory.Client();
    private readonly SampleRepo _repo = new();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role);

    private async Task<(WorkerInfo Worker, string ExecutionId)> ExecuteAsync(string script)
    {
        var worker = await _admin.CreateWorkerAsync(new CreateWorkerRequest($"w-{Guid.NewGuid():N}"[..20], "command", [_repo.ScriptPath(script)]));
        var repo = await _admin.CreateRepositoryAsync(new CreateRepositoryRequest("sample", _repo.Path));
        var item = await _admin.CreateWorkItemAsync(new CreateWorkItemRequest("Implement slugify", "Make test_slugify pass", repo.RepositoryId));
        var id = (await _admin.ExecuteAsync(new ExecuteRequest(worker.WorkerId, item.WorkItemId, "Implement slugify"))).ExecutionId;
        return (worker, id);
    }

    private async Task<ExecutionInfo> WaitAsync(string id, Func<ExecutionInfo, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var signals = factory.Service<Baton.Engine.EngineSignals>();
        while (true)
        {
            var wake = signals.Events.Current;
            var execution = await _admin.GetExecutionAsync(id, timeout.Token);
            if (done(execution))
            {
                return execution;
            }
            await wake.WaitAsync(timeout.Token);
        }
    }

    private static int Rows(Page page) => Math.Max(0, Regex.Matches(page.Html, "<tr>").Count - 1);

    [Fact]
    public async Task A_standalone_execution_is_listed_and_shown_with_its_log()
    {
        var (worker, id) = await ExecuteAsync("implement.sh");
        await WaitAsync(id, e => e.Status is "success" or "error");
        using var browser = await SignedInAsync("viewer");

        var list = await browser.GetAsync($"/executions?worker={worker.Name}");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal(1, Rows(list));
        Assert.Contains($"href=\"/executions/{id}\"", list.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"muted\">standalone</span>", list.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"status status-success\">success</span>", list.Html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num\">1,500</td>", list.Html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num\">$0.0125</td>", list.Html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num\">0</td>", list.Html, StringComparison.Ordinal);
        Assert.Contains($"<option value=\"{worker.Name}\" selected", list.Html, StringComparison.Ordinal);

        var page = await browser.GetAsync($"/executions/{id}");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains(WebUtility.HtmlEncode(_repo.ScriptPath("implement.sh")), page.Html, StringComparison.Ordinal);
        Assert.Contains("implementing slugify in ", page.Html, StringComparison.Ordinal);
        Assert.Contains("slugify implemented", page.Html, StringComparison.Ordinal);
        Assert.Contains("<h2 id=\"diff-h\">Diff</h2>", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("/cancel\"", page.Html, StringComparison.Ordinal);

        var workspaces = await browser.GetAsync("/workspaces");
        Assert.Equal(HttpStatusCode.OK, workspaces.Status);
        Assert.Contains($"<code>baton/{id}</code>", workspaces.Html, StringComparison.Ordinal);
        Assert.Contains($"href=\"/executions/{id}\"", workspaces.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_command_shows_its_exit_code_and_error()
    {
        var (worker, id) = await ExecuteAsync("fail.sh");
        await WaitAsync(id, e => e.Status is "success" or "error");
        using var browser = await SignedInAsync("viewer");
        var list = await browser.GetAsync($"/executions?worker={worker.Name}&status=error");
        Assert.Contains($"href=\"/executions/{id}\"", list.Html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num\">3</td>", list.Html, StringComparison.Ordinal);
        var page = await browser.GetAsync($"/executions/{id}");
        Assert.Contains("fail.sh exited with code 3: about to fail", page.Html, StringComparison.Ordinal);
        Assert.Equal(0, Rows(await browser.GetAsync($"/executions?worker={worker.Name}&status=success")));
    }

    [Fact]
    public async Task A_runs_executions_link_to_the_run_and_show_only_their_phases_log()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "# Ship it"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var executionId = await factory.Service<Database>().ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT id FROM executions WHERE run_id = @RunId AND phase = 'two'", new { run.RunId }));
        using var browser = await SignedInAsync("viewer");

        var list = await browser.GetAsync("/executions?worker=template");
        Assert.Contains($"href=\"/runs/{run.RunId}\"", list.Html, StringComparison.Ordinal);
        Assert.Contains("two #1", list.Html, StringComparison.Ordinal);

        var page = await browser.GetAsync($"/executions/{executionId}");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains($"href=\"/runs/{run.RunId}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains("rendered two.md", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("rendered one.md", page.Html, StringComparison.Ordinal);
        Assert.Contains("built-in template agent", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_cancels_a_running_execution_and_a_second_cancel_says_it_ended()
    {
        var (_, id) = await ExecuteAsync("tree.sh");
        await WaitAsync(id, e => e.Output.Logs.Contains("started tree"));
        var action = $"/executions/{id}/cancel";

        using var viewer = await SignedInAsync("viewer");
        var viewerPage = await viewer.GetAsync($"/executions/{id}");
        Assert.Contains("<span class=\"status status-running\">running</span>", viewerPage.Html, StringComparison.Ordinal);
        Assert.DoesNotContain($"action=\"{action}\"", viewerPage.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync(action)).Status);

        using var op = await SignedInAsync("operator");
        var page = await op.GetAsync($"/executions/{id}");
        Assert.Contains($"action=\"{action}\"", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await op.PostAsync(action, withToken: false)).Status);
        Assert.Equal("running", (await _admin.GetExecutionAsync(id)).Status);

        var cancelled = await op.PostAsync(action);
        Assert.Equal(HttpStatusCode.Redirect, cancelled.Status);
        Assert.Equal($"/executions/{id}", cancelled.Location);
        Assert.Equal("cancelled", (await _admin.GetExecutionAsync(id)).Status);

        var again = await op.PostAsync(action);
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Contains($"Not cancelled: execution &#x27;{id}&#x27; is cancelled; only a pending or running execution can be cancelled.", again.Html, StringComparison.Ordinal);
        Assert.DoesNotContain($"action=\"{action}\"", again.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_executions_are_a_404_page()
    {
        using var op = await SignedInAsync("operator");
        var page = await op.GetAsync("/executions/exe_nope");
        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Contains("There is no execution &#x27;exe_nope&#x27;.", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await op.PostAsync("/executions/exe_nope/cancel")).Status);
    }

    [Theory]
    [InlineData("?limit=0", "The page size must be a whole number from 1 to 200 (it was &#x27;0&#x27;)")]
    [InlineData("?limit=abc", "The page size must be a whole number from 1 to 200 (it was &#x27;abc&#x27;)")]
    [InlineData("?limit=201", "The page size must be a whole number from 1 to 200")]
    [InlineData("?offset=-1", "The offset must be a whole number from 0 to 1000000 (it was &#x27;-1&#x27;)")]
    [InlineData("?offset=99999999999", "The offset must be a whole number from 0 to 1000000")]
    [InlineData("?status=done", "Unknown status &#x27;done&#x27;; showing every status.")]
    public async Task Bad_list_parameters_are_a_note_not_an_error(string query, string note)
    {
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync("/executions" + query);
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains(note, page.Html, StringComparison.Ordinal);
        Assert.Contains("role=\"alert\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_list_pages_newest_first()
    {
        var run = await _admin.CreateRunAsync(new CreateRunRequest("straight", "paging"));
        await _admin.WaitForStatusAsync(run.RunId, "completed");
        var ids = (await factory.Service<Database>().ReadAsync(c => c.QueryAsync<string>(
            "SELECT id FROM executions WHERE worker = 'template' ORDER BY created_at DESC, id DESC LIMIT 2"))).ToList();
        using var browser = await SignedInAsync("viewer");
        var first = await browser.GetAsync("/executions?worker=template&limit=1");
        Assert.Equal(1, Rows(first));
        Assert.Contains(ids[0], first.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"/executions?worker=template&amp;limit=1&amp;offset=1\" rel=\"next\"", first.Html, StringComparison.Ordinal);
        var second = await browser.GetAsync("/executions?worker=template&limit=1&offset=1");
        Assert.Contains(ids[1], second.Html, StringComparison.Ordinal);
        Assert.Contains("rel=\"prev\"", second.Html, StringComparison.Ordinal);
        var beyond = await browser.GetAsync("/executions?worker=template&offset=1000000");
        Assert.Contains("No executions match these filters on this page.", beyond.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Workspaces_explain_how_they_come_about_and_note_a_bad_state()
    {
        using var browser = await SignedInAsync("viewer");
        var deleted = await browser.GetAsync("/workspaces?state=deleted");
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Contains("No deleted workspaces.", deleted.Html, StringComparison.Ordinal);
        Assert.Contains("baton workspace list", deleted.Html, StringComparison.Ordinal);
        var bad = await browser.GetAsync("/workspaces?state=gone");
        Assert.Equal(HttpStatusCode.OK, bad.Status);
        Assert.Contains("Unknown state &#x27;gone&#x27;; showing active workspaces.", bad.Html, StringComparison.Ordinal);
    }

    public void Dispose() => _repo.Dispose();
}
