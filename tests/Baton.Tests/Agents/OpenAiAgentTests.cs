using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Baton.Agents;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

public sealed class OpenAiAgentTests : IAsyncLifetime
{
    private const string KeyVariable = "TEST_OPENAI_KEY";
    private const string Key = "sk-test-secret-123";

    private readonly ConcurrentQueue<(string Level, string Line)> _log = new();
    private OpenAiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await OpenAiStub.StartAsync();

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    [Fact]
    public async Task Streamed_text_becomes_the_single_artifact_its_lines_reach_the_log_while_it_streams_and_usage_is_priced()
    {
        var firstLineLogged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var completedWhenLogged = new ConcurrentDictionary<string, int>();
        _stub.Then(StubReply.Stream("# Plan\nstep o", "ne\nstep two", "\n\nlast line, no newline") with
        {
            Usage = (1200, 3400),
            Hold = firstLineLogged.Task,
            HoldBefore = 2,
        });
        var request = Request(["plan.md"], onLine: line =>
        {
            completedWhenLogged[line] = _stub.Completed;
            if (line == "step one")
            {
                firstLineLogged.TrySetResult();
            }
        });

        var outcome = await Agent(Config() with { MaxTokens = 1000 }).RunAsync(request, CancellationToken.None);

        var artifact = Assert.Single(outcome.Artifacts);
        Assert.Equal(("plan.md", "# Plan\nstep one\nstep two\n\nlast line, no newline"), (artifact.Name, artifact.Content));
        Assert.Equal(artifact.Content, outcome.Summary);
        Assert.Equal(["# Plan", "step one", "step two", "last line, no newline"], Lines("info"));
        // The stub held the rest of its answer until "step one" was logged: the log is live, not replayed at the end.
        Assert.Equal(0, completedWhenLogged["step one"]);
        Assert.Equal(new AgentUsage(1200, 3400, 0.0546m, 0), outcome.Usage);
        Assert.Empty(Lines("warn"));

        var sent = Assert.Single(_stub.Requests);
        Assert.Equal("Bearer none", sent.Authorization);
        var body = sent.Json;
        Assert.Equal("test-model", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(1000, body.GetProperty("max_completion_tokens").GetInt32());
        var message = Assert.Single(body.GetProperty("messages").EnumerateArray());
        Assert.Equal(("user", "Write the plan."), (message.GetProperty("role").GetString(), Text(message)));
    }

    [Fact]
    public async Task Several_artifacts_are_split_by_file_markers_the_model_was_told_to_write()
    {
        _stub.Then(StubReply.Stream(
            "Here are the files.\n=== FILE: plan.md ===\n# Plan\n\nDo it.\n\n=== FI",
            "LE: tasks.json ===\n[1, 2]\n=== FILE: secrets.txt ===\nnot asked for\n"));
        var config = Config() with { SystemPrompt = "You are a careful planner." };

        var outcome = await Agent(config).RunAsync(Request(["plan.md", "tasks.json", "risks.md"]), CancellationToken.None);

        Assert.Equal(
            [new ProducedArtifact("plan.md", "# Plan\n\nDo it.\n"), new ProducedArtifact("tasks.json", "[1, 2]\n")],
            outcome.Artifacts);
        Assert.Equal("Here are the files.", outcome.Summary);
        Assert.Contains(Lines("warn"), l => l.Contains("secrets.txt", StringComparison.Ordinal));
        Assert.Contains(Lines("warn"), l => l.Contains("no section for risks.md", StringComparison.Ordinal));

        var messages = _stub.Requests.Single().Json.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["system", "user"], messages.Select(m => m.GetProperty("role").GetString()));
        var system = Text(messages[0]);
        Assert.StartsWith("You are a careful planner.", system, StringComparison.Ordinal);
        foreach (var name in new[] { "plan.md", "tasks.json", "risks.md" })
        {
            Assert.Contains($"=== FILE: {name} ===", system, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_phase_that_produces_nothing_gets_the_text_as_its_summary()
    {
        _stub.Then(StubReply.Stream("Looks good.\nShip it."));

        var outcome = await Agent().RunAsync(Request([]), CancellationToken.None);

        Assert.Empty(outcome.Artifacts);
        Assert.Equal("Looks good.\nShip it.", outcome.Summary);
    }

    [Fact]
    public async Task Two_429s_then_success_succeeds_on_the_third_request_and_honours_retry_after()
    {
        _stub.Then(
            StubReply.Error(429, "Rate limit reached", retryAfter: "0"),
            StubReply.Error(429, "Rate limit reached", retryAfter: "0"),
            StubReply.Stream("done\n"));
        // A backoff this long would time the test out: only the server's Retry-After of 0 makes it quick.
        var agent = Agent(baseDelay: TimeSpan.FromSeconds(30));

        var outcome = await agent.RunAsync(Request(["out.md"]), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("done\n", Assert.Single(outcome.Artifacts).Content);
        Assert.Equal(3, _stub.Requests.Count);
        Assert.Equal(
            ["attempt 1 of 4 failed (HTTP 429: Rate limit reached); retrying in 0s",
             "attempt 2 of 4 failed (HTTP 429: Rate limit reached); retrying in 0s"],
            Lines("warn"));
    }

    [Fact]
    public async Task Backoff_waits_on_the_agents_clock()
    {
        _stub.Then(StubReply.Error(503, "overloaded"), StubReply.Stream("ok"));
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var agent = new OpenAiAgent(Config(), _ => null, clock) { RetryBaseDelay = TimeSpan.FromSeconds(10) };

        var run = agent.RunAsync(Request(["out.md"]), CancellationToken.None);
        await Eventually.TrueAsync(() => Lines("warn").Count == 1, "one warning logged");
        await Task.Delay(200);
        Assert.False(run.IsCompleted);
        Assert.Single(_stub.Requests);

        // The wait starts just after the warning is logged: keep moving the clock until the retry has happened.
        while (!run.IsCompleted)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await Task.WhenAny(run, Task.Delay(20));
        }
        Assert.Equal("ok", Assert.Single((await run).Artifacts).Content);
        Assert.Equal(2, _stub.Requests.Count);
    }

    [Fact]
    public async Task A_server_that_keeps_failing_with_500_fails_the_execution_after_the_retry_budget()
    {
        _stub.Default = StubReply.Error(500, "upstream exploded");

        var error = await Assert.ThrowsAsync<AgentFailedException>(() => Agent().RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Equal(4, _stub.Requests.Count);
        Assert.Contains("HTTP 500: upstream exploded", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, Lines("warn").Count);
        Assert.Equal(AgentUsage.None, error.Usage);
    }

    [Fact]
    public async Task A_400_fails_at_once_with_the_servers_message()
    {
        _stub.Default = StubReply.Error(400, "max_tokens is too large: 999999");

        var error = await Assert.ThrowsAsync<AgentFailedException>(() => Agent().RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Single(_stub.Requests);
        Assert.Equal("the model server refused the request: HTTP 400: max_tokens is too large: 999999", error.Message);
    }

    [Fact]
    public async Task A_server_that_cannot_be_reached_is_retried_then_fails()
    {
        var config = Config() with { BaseUrl = $"http://127.0.0.1:{ClosedPort()}/v1" };

        var error = await Assert.ThrowsAsync<AgentFailedException>(() => Agent(config).RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Contains("no response", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, Lines("warn").Count);
    }

    [Fact]
    public async Task A_server_gone_silent_is_retried_after_the_network_timeout()
    {
        _stub.Then(StubReply.Stall(TimeSpan.FromSeconds(30)), StubReply.Stream("ok"));
        // Long enough that the second, prompt answer always arrives within it on a busy machine (300 ms did not, in CI).
        var agent = Agent(networkTimeout: TimeSpan.FromSeconds(2));

        var outcome = await agent.RunAsync(Request(["out.md"]), CancellationToken.None);

        Assert.Equal("ok", Assert.Single(outcome.Artifacts).Content);
        Assert.Equal(2, _stub.Requests.Count);
        Assert.Contains("network timeout", Assert.Single(Lines("warn")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_key_is_sent_as_a_bearer_token_and_never_logged()
    {
        // A server that echoes the key in an error would put it in a retry warning, were it not redacted.
        _stub.Then(StubReply.Error(429, $"Rate limit for key {Key}", retryAfter: "0"), StubReply.Stream("fine\n"));
        var config = Config() with { ApiKeyEnv = KeyVariable };

        await Agent(config, Environment(Key)).RunAsync(Request(["out.md"]), CancellationToken.None);

        Assert.All(_stub.Requests, r => Assert.Equal($"Bearer {Key}", r.Authorization));
        Assert.NotEmpty(Lines("warn"));
        Assert.DoesNotContain(_log, l => l.Line.Contains(Key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_error_that_echoes_the_api_key_is_redacted()
    {
        _stub.Default = StubReply.Error(401, $"Incorrect API key provided: {Key}");

        var error = await Assert.ThrowsAsync<AgentFailedException>(() =>
            Agent(Config() with { ApiKeyEnv = KeyVariable }, Environment(Key)).RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Equal("the model server refused the request: HTTP 401: Incorrect API key provided: [REDACTED]", error.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task A_missing_api_key_variable_fails_naming_the_variable_before_any_request(string? value)
    {
        var config = Config() with { ApiKeyEnv = KeyVariable };

        var error = await Assert.ThrowsAsync<AgentFailedException>(() =>
            Agent(config, Environment(value)).RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Equal($"environment variable {KeyVariable} (api_key_env) is not set", error.Message);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task Cancelling_the_token_stops_a_streaming_execution_promptly()
    {
        using var cts = new CancellationTokenSource();
        _stub.Then(StubReply.Stream("first line\n", "never sent") with
        {
            Hold = new TaskCompletionSource().Task,
            HoldBefore = 1,
            HoldAtMost = TimeSpan.FromSeconds(30),
        });
        var request = Request(["out.md"], onLine: line =>
        {
            if (line == "first line")
            {
                cts.Cancel();
            }
        });
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Agent().RunAsync(request, cts.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Single(_stub.Requests);
        Assert.Equal(0, _stub.Completed);
    }

    [Fact]
    public async Task The_worker_timeout_fails_the_execution()
    {
        _stub.Default = StubReply.Stall(TimeSpan.FromSeconds(30));
        var config = Config() with { Timeout = TimeSpan.FromMilliseconds(300) };

        var error = await Assert.ThrowsAsync<AgentFailedException>(() => Agent(config).RunAsync(Request(["out.md"]), CancellationToken.None));

        Assert.Equal("timed out after 300ms (worker timeout)", error.Message);
    }

    [Fact]
    public async Task A_server_that_reports_no_usage_costs_nothing_and_says_so()
    {
        _stub.Then(StubReply.Stream("text") with { Usage = null });

        var outcome = await Agent().RunAsync(Request(["out.md"]), CancellationToken.None);

        Assert.Equal(AgentUsage.None, outcome.Usage);
        Assert.Contains("no token usage", Assert.Single(Lines("warn")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prices_are_optional()
    {
        _stub.Then(StubReply.Stream("text") with { Usage = (10, 20) });

        var outcome = await Agent(Config() with { InputPricePerMtok = null, OutputPricePerMtok = null })
            .RunAsync(Request(["out.md"]), CancellationToken.None);

        Assert.Equal(new AgentUsage(10, 20, 0m, 0), outcome.Usage);
    }

    private WorkerConfig Config() => new()
    {
        BaseUrl = _stub.BaseUrl,
        Model = "test-model",
        InputPricePerMtok = 3m,
        OutputPricePerMtok = 15m,
    };

    private static OpenAiAgent Agent(
        WorkerConfig config, Func<string, string?>? environment = null, TimeSpan? baseDelay = null, TimeSpan? networkTimeout = null) =>
        new(config, environment ?? (_ => null), TimeProvider.System)
        {
            RetryBaseDelay = baseDelay ?? TimeSpan.FromMilliseconds(1),
            NetworkTimeout = networkTimeout ?? TimeSpan.FromSeconds(30),
        };

    private OpenAiAgent Agent(TimeSpan? baseDelay = null, TimeSpan? networkTimeout = null) =>
        Agent(Config(), baseDelay: baseDelay, networkTimeout: networkTimeout);

    private static Func<string, string?> Environment(string? key) => name => name == KeyVariable ? key : null;

    private AgentRequest Request(IReadOnlyList<string> produces, Action<string>? onLine = null) =>
        new("owner-1", "plan", 1, "Write the plan.", "/tmp/work", "/tmp/artifacts", produces, (level, line) =>
        {
            _log.Enqueue((level, line));
            onLine?.Invoke(line);
            return Task.CompletedTask;
        });

    private List<string> Lines(string level) => _log.Where(l => l.Level == level).Select(l => l.Line).ToList();

    private static string? Text(JsonElement message)
    {
        var content = message.GetProperty("content");
        // The SDK may send content as a string or as a list of text parts.
        return content.ValueKind == JsonValueKind.String
            ? content.GetString()
            : string.Concat(content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
