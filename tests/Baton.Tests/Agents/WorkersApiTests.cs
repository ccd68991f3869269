using System.Net;
using System.Text;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

public class WorkersApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _client = factory.Client();

    [Fact]
    public async Task Workers_are_created_listed_read_and_deleted_and_secrets_are_only_names()
    {
        var command = await _client.CreateWorkerAsync(new CreateWorkerRequest("claude-code", "command",
            ["claude", "-p", "{{prompt}}", "--output-format", "json"], Env: new Dictionary<string, string> { ["CLAUDE_MODE"] = "ci" },
            SecretEnv: new Dictionary<string, string> { ["ANTHROPIC_API_KEY"] = "BATON_SECRET_ANTHROPIC" }, Usage: "claude", Timeout: "20m", Concurrency: 2));
        Assert.StartsWith("wkr_", command.WorkerId, StringComparison.Ordinal);
        Assert.Equal(("20m", 2, "claude"), (command.Timeout, command.Concurrency, command.Usage));
        Assert.Equal("BATON_SECRET_ANTHROPIC", command.SecretEnv!["ANTHROPIC_API_KEY"]);

        var openai = await _client.CreateWorkerAsync(new CreateWorkerRequest("local-llm", "openai", BaseUrl: "http://127.0.0.1:11434/v1", Model: "qwen2.5-coder",
            InputPricePerMtok: 0.5m, OutputPricePerMtok: 1.5m));
        Assert.Equal(("http://127.0.0.1:11434/v1", "qwen2.5-coder"), (openai.BaseUrl, openai.Model));

        Assert.Equal(command.WorkerId, (await _client.GetWorkerAsync("claude-code")).WorkerId);
        Assert.Equal("local-llm", (await _client.GetWorkerAsync(openai.WorkerId)).Name);
        var names = (await _client.ListWorkersAsync()).Workers.Select(w => w.Name).ToList();
        Assert.Contains("claude-code", names);
        Assert.Contains("local-llm", names);

        var duplicate = await Assert.ThrowsAsync<BatonApiException>(() => _client.CreateWorkerAsync(new CreateWorkerRequest("claude-code", "command", ["x"])));
        Assert.Equal(HttpStatusCode.Conflict, duplicate.Status);

        await _client.DeleteWorkerAsync(openai.WorkerId);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<BatonApiException>(() => _client.GetWorkerAsync(openai.WorkerId))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<BatonApiException>(() => _client.DeleteWorkerAsync(openai.WorkerId))).Status);
    }

    [Theory]
    [InlineData("""{"kind":"command","argv":["x"]}""", "name")]
    [InlineData("""{"name":"Bad Name","kind":"command","argv":["x"]}""", "name")]
    [InlineData("""{"name":"template","kind":"command","argv":["x"]}""", "name")]
    [InlineData("""{"name":"x1"}""", "kind")]
    [InlineData("""{"name":"x2","kind":"shell"}""", "kind")]
    [InlineData("""{"name":"x3","kind":"command"}""", "argv")]
    [InlineData("""{"name":"x4","kind":"command","argv":[""]}""", "argv")]
    [InlineData("""{"name":"x5","kind":"command","argv":["x"],"usage":"magic"}""", "usage")]
    [InlineData("""{"name":"x6","kind":"command","argv":["x"],"secret_env":{"KEY":"sk-live-123456"}}""", "secret_env")]
    [InlineData("""{"name":"x7","kind":"command","argv":["x"],"env":{"1BAD":"v"}}""", "env")]
    [InlineData("""{"name":"x8","kind":"command","argv":["x"],"timeout":"forever"}""", "timeout")]
    [InlineData("""{"name":"x9","kind":"command","argv":["x"],"concurrency":-1}""", "concurrency")]
    [InlineData("""{"name":"y1","kind":"openai","model":"m"}""", "base_url")]
    [InlineData("""{"name":"y2","kind":"openai","base_url":"ftp://x","model":"m"}""", "base_url")]
    [InlineData("""{"name":"y3","kind":"openai","base_url":"http://x/v1"}""", "model")]
    [InlineData("""{"name":"y4","kind":"openai","base_url":"http://x/v1","model":"m","api_key_env":"sk-abc def"}""", "api_key_env")]
    [InlineData("""{"name":"y5","kind":"openai","base_url":"http://x/v1","model":"m","max_tokens":0}""", "max_tokens")]
    [InlineData("""{"name":"z","kind":"command","argv":"claude -p"}""", "argv")]
    [InlineData("""{"name":"p1","kind":"command","argv":["x"],"pass_env":{"ANTHROPIC_BASE_URL":"sk-live-123456"}}""", "pass_env")]
    [InlineData("""{"name":"p3","kind":"command","argv":["x"],"pass_env":{"DB":"BATON_DATABASE"}}""", "pass_env")]
    [InlineData("""{"name":"p4","kind":"command","argv":["x"],"secret_env":{"KEY":"BATON_ADMIN_TOKEN"}}""", "secret_env")]
    [InlineData("""{"name":"p5","kind":"command","argv":["x"],"codex":{"model":"gpt-5.5","api_key_env":"BATON_TOKEN"}}""", "codex.api_key_env")]
    [InlineData("""{"name":"p2","kind":"command","argv":["x"],"pass_env":{"1BAD":"X"}}""", "env")]
    [InlineData("""{"name":"c1","kind":"command","argv":["codex"],"codex":{}}""", "codex.model")]
    [InlineData("""{"name":"c2","kind":"command","argv":["codex"],"codex":{"model":"gpt\"\nsandbox_mode = \"danger-full-access"}}""", "codex.model")]
    [InlineData("""{"name":"c3","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","base_url":"ftp://x"}}""", "codex.base_url")]
    [InlineData("""{"name":"c4","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","base_url_env":"http://x"}}""", "codex.base_url_env")]
    [InlineData("""{"name":"c5","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","api_key_env":"sk-live-123456 "}}""", "codex.api_key_env")]
    [InlineData("""{"name":"c6","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","sandbox_mode":"yolo"}}""", "codex.sandbox_mode")]
    [InlineData("""{"name":"c7","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","reasoning_effort":"max"}}""", "codex.reasoning_effort")]
    [InlineData("""{"name":"c8","kind":"command","argv":["codex"],"codex":{"model":"gpt-5.5","extra":1}}""", "codex.extra")]
    [InlineData("""{"name":"c9","kind":"command","argv":["codex"],"usage":"codex","cached_input_price_per_mtok":-1}""", "input_price_per_mtok")]
    public async Task Bad_workers_are_400_with_the_field_and_never_echo_a_secret(string json, string field)
    {
        var response = await factory.Http().PostAsync("/api/workers", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var body = JsonDocument.Parse(text).RootElement;
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), text);
        Assert.DoesNotContain("sk-live-123456", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_of_a_profile_whose_worker_does_not_exist_is_refused()
    {
        File.WriteAllText(Path.Combine(factory.DataDir, "profiles", "needs-worker.yaml"),
            "name: needs-worker\nphases:\n  - name: build\n    worker: nobody-made-me\n");
        var ex = await Assert.ThrowsAsync<BatonApiException>(() => _client.CreateRunAsync(new CreateRunRequest("needs-worker", "x")));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Contains("nobody-made-me", ex.Errors["profile"][0], StringComparison.Ordinal);
        var noRepo = await Assert.ThrowsAsync<BatonApiException>(() => _client.CreateRunAsync(new CreateRunRequest("straight", "x", RepositoryId: "rep_nope")));
        Assert.True(noRepo.Errors.ContainsKey("repository_id"));
    }

    [Theory]
    [InlineData("""{"name":"r"}""", "url")]
    [InlineData("""{"url":"/tmp"}""", "name")]
    [InlineData("""{"name":"r","url":"/definitely/not/here"}""", "url")]
    [InlineData("""{"name":"r","url":"/tmp"}""", "url")]
    [InlineData("""{"name":"r","url":"--upload-pack=evil"}""", "url")]
    [InlineData("""{"name":"r","url":"/tmp","default_branch":"-x"}""", "default_branch")]
    public async Task Bad_repositories_are_400(string json, string field)
    {
        var response = await factory.Http().PostAsync("/api/repositories", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), body.ToString());
    }

    [Theory]
    [InlineData("""{}""", "title")]
    [InlineData("""{"title":"t","repository_id":"rep_nope"}""", "repository_id")]
    public async Task Bad_work_items_are_400(string json, string field)
    {
        var response = await factory.Http().PostAsync("/api/work-items", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), body.ToString());
    }

    [Fact]
    public async Task Repositories_and_work_items_are_listed_read_and_deleted()
    {
        using var repo = new SampleRepo();
        var created = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample", repo.Path));
        Assert.Equal(("main", repo.Path), (created.DefaultBranch, created.Url));
        var item = await _client.CreateWorkItemAsync(new CreateWorkItemRequest("Fix it", RepositoryId: created.RepositoryId));
        Assert.Contains((await _client.ListWorkItemsAsync()).WorkItems, w => w.WorkItemId == item.WorkItemId);
        var inUse = await Assert.ThrowsAsync<BatonApiException>(() => _client.DeleteRepositoryAsync(created.RepositoryId));
        Assert.Equal(HttpStatusCode.Conflict, inUse.Status);
        Assert.Equal(HttpStatusCode.NoContent, (await factory.Http().DeleteAsync($"/api/work-items/{item.WorkItemId}")).StatusCode);
        await _client.DeleteRepositoryAsync(created.RepositoryId);
        Assert.DoesNotContain((await _client.ListRepositoriesAsync()).Repositories, r => r.RepositoryId == created.RepositoryId);
    }
}
