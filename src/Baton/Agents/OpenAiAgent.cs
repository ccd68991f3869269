using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Baton.Profiles;
using OpenAI;
using OpenAI.Chat;
using Polly;
using Polly.Retry;

namespace Baton.Agents;

/// <summary>
/// An agent backed by any OpenAI-compatible chat-completions endpoint (OpenAI, Azure, Ollama, vLLM, llama.cpp, LM
/// Studio). It streams the answer into the run's log line by line, turns the answer into the phase's artifacts,
/// prices the reported usage by the worker's price table and retries 429s, 5xx and broken connections with backoff.
/// </summary>
public sealed class OpenAiAgent : IAgent
{
    // Local servers (Ollama, llama.cpp) want no key, but the SDK insists on a credential.
    private const string NoKey = "none";

    private readonly WorkerConfig _config;
    private readonly Func<string, string?> _readEnvironment;
    private readonly TimeProvider _time;

    public OpenAiAgent(WorkerConfig config, Func<string, string?> readEnvironment, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(readEnvironment);
        ArgumentNullException.ThrowIfNull(time);
        _config = config;
        _readEnvironment = readEnvironment;
        _time = time;
    }

    /// <summary>Attempts per execution, the first included.</summary>
    internal int MaxAttempts { get; init; } = 4;

    /// <summary>First backoff delay; it doubles with each retry, with jitter.</summary>
    internal TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Upper bound on one wait, also on a server's Retry-After, so a server cannot park an execution.</summary>
    internal TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one network operation (the response's headers, then each read of the stream) may take. The SDK's
    /// default of 100 s would cut off models that think for minutes before their first token; a silence this long
    /// means a dead connection, which is retried.
    /// </summary>
    internal TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public async Task<AgentOutcome> RunAsync(AgentRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var apiKey = ReadApiKey();
        // The key is a secret from now on (ADR 40): not in this log, an error, the artifacts or anything else stored.
        var redactor = Ops.Redactor.Process;
        redactor.Add(apiKey == NoKey ? null : apiKey);
        Task Log(string level, string line) => request.Log(level, redactor.Redact(line));

        var client = CreateClient(apiKey);
        var messages = Messages(request);
        var pipeline = RetryPipeline(Log);

        using var workerTimeout = _config.Timeout is { } limit && limit > TimeSpan.Zero
            ? new CancellationTokenSource(Clamp(limit), _time)
            : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, workerTimeout.Token);

        Response response;
        try
        {
            response = await pipeline.ExecuteAsync(token => StreamOnceAsync(client, messages, Log, token), linked.Token);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // The caller (phase timeout, run cancelled) asked us to stop: whatever broke on the way out is a symptom.
            ct.ThrowIfCancellationRequested();
            throw;
        }
        catch (Exception) when (workerTimeout.IsCancellationRequested)
        {
            throw new AgentFailedException($"timed out after {Durations.Format(_config.Timeout!.Value)} (worker timeout)");
        }
        catch (Exception ex)
        {
            throw new AgentFailedException(redactor.Redact(Describe(ex, linked.Token)));
        }

        var usage = await UsageAsync(response, Log);
        if (response.FinishReason == ChatFinishReason.Length)
        {
            await Log("warn", $"the response was cut off at the output token limit ({_config.MaxTokens?.ToString(CultureInfo.InvariantCulture) ?? "the server's default"})");
        }
        return await OutcomeAsync(request.Produces, response.Text, usage, Log);
    }

    private string ReadApiKey()
    {
        if (string.IsNullOrWhiteSpace(_config.ApiKeyEnv))
        {
            return NoKey;
        }
        var key = _readEnvironment(_config.ApiKeyEnv);
        // The message names the variable only: a value, even a wrong one, must not reach logs or errors.
        return string.IsNullOrWhiteSpace(key)
            ? throw new AgentFailedException($"environment variable {_config.ApiKeyEnv} (api_key_env) is not set")
            : key.Trim();
    }

    private ChatClient CreateClient(string apiKey)
    {
        if (string.IsNullOrWhiteSpace(_config.Model))
        {
            throw new AgentFailedException("model is not set in the worker's config");
        }
        if (!Uri.TryCreate(_config.BaseUrl?.TrimEnd('/'), UriKind.Absolute, out var endpoint)
            || endpoint.Scheme is not ("http" or "https"))
        {
            throw new AgentFailedException($"base_url '{_config.BaseUrl}' is not an absolute http(s) URL");
        }
        var options = new OpenAIClientOptions
        {
            Endpoint = endpoint,
            // Retries are ours (below): the SDK's own would multiply with them and ignore our budget and log.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = NetworkTimeout,
        };
        return new ChatClient(_config.Model, new ApiKeyCredential(apiKey), options);
    }

    private List<ChatMessage> Messages(AgentRequest request)
    {
        var system = new List<string>();
        if (!string.IsNullOrWhiteSpace(_config.SystemPrompt))
        {
            system.Add(_config.SystemPrompt);
        }
        if (request.Produces.Count > 1)
        {
            system.Add(ModelOutput.SectionInstruction(request.Produces));
        }
        var messages = new List<ChatMessage>();
        if (system.Count > 0)
        {
            messages.Add(new SystemChatMessage(string.Join("\n\n", system)));
        }
        messages.Add(new UserChatMessage(request.Prompt));
        return messages;
    }

    private ResiliencePipeline RetryPipeline(Func<string, string, Task> log) =>
        new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = RetryBaseDelay,
                MaxDelay = MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is ClientResultException e ? RetryAfter(e) : null),
                OnRetry = async args =>
                {
                    var reason = Reason(args.Outcome.Exception!, args.Context.CancellationToken);
                    await log("warn", $"attempt {args.AttemptNumber + 1} of {MaxAttempts} failed ({reason}); " +
                        $"retrying in {args.RetryDelay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s");
                },
            })
            .Build();

    private async ValueTask<Response> StreamOnceAsync(
        ChatClient client, List<ChatMessage> messages, Func<string, string, Task> log, CancellationToken ct)
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = _config.MaxTokens };
        var text = new StringBuilder();
        var lines = new LineSplitter(line => log("info", line), Ops.Redactor.Process);
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        // 2.15.0 asks for stream_options.include_usage itself whenever it streams: the last chunk carries the usage.
        await foreach (var update in client.CompleteChatStreamingAsync(messages, options, ct).WithCancellation(ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                if (part.Kind == ChatMessageContentPartKind.Text && part.Text is { Length: > 0 } chunk)
                {
                    text.Append(chunk);
                    await lines.PushAsync(chunk);
                }
            }
            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }
        await lines.FlushAsync();
        return new Response(text.ToString(), usage, finish);
    }

    private async Task<AgentUsage> UsageAsync(Response response, Func<string, string, Task> log)
    {
        if (response.Usage is not { } usage)
        {
            await log("warn", "the server reported no token usage; tokens and cost are recorded as 0");
            return AgentUsage.None;
        }
        long tokensIn = usage.InputTokenCount, tokensOut = usage.OutputTokenCount;
        var cost = tokensIn / 1_000_000m * (_config.InputPricePerMtok ?? 0m)
            + tokensOut / 1_000_000m * (_config.OutputPricePerMtok ?? 0m);
        return new AgentUsage(tokensIn, tokensOut, cost, ToolCalls: 0);
    }

    private static async Task<AgentOutcome> OutcomeAsync(
        IReadOnlyList<string> produces, string text, AgentUsage usage, Func<string, string, Task> log)
    {
        switch (produces.Count)
        {
            case 0:
                return new AgentOutcome([], text.Trim(), usage);
            case 1:
                if (text.Trim().Length == 0)
                {
                    // An empty file would pass an "exists" check; absent, the phase's checks report it.
                    await log("warn", $"the model returned no text; {produces[0]} was not written");
                    return new AgentOutcome([], null, usage);
                }
                return new AgentOutcome([new ProducedArtifact(produces[0], text)], ModelOutput.Summarize(text), usage);
            default:
                var (artifacts, preamble, ignored) = ModelOutput.Split(text, produces);
                foreach (var name in ignored)
                {
                    await log("warn", $"ignored a section for {name}: the phase does not produce it");
                }
                var missing = produces.Except(artifacts.Select(a => a.Name), StringComparer.Ordinal).ToList();
                if (missing.Count > 0)
                {
                    await log("warn", $"the response has no section for {string.Join(", ", missing)}");
                }
                var summary = preamble.Length > 0 ? ModelOutput.Summarize(preamble) : ModelOutput.Summarize(text);
                return new AgentOutcome(artifacts, summary.Length > 0 ? summary : null, usage);
        }
    }

    /// <summary>Worth another attempt: throttling, server errors, connections that failed or went silent.</summary>
    private static bool IsTransient(Exception ex, CancellationToken attempt) => ex switch
    {
        ClientResultException { Status: 0 or 429 or >= 500 } => true,
        ClientResultException => false,
        HttpRequestException or IOException => true,
        // Cancelled while nobody cancelled us: the SDK's network timeout fired.
        OperationCanceledException => !attempt.IsCancellationRequested,
        _ => false,
    };

    private static string Describe(Exception ex, CancellationToken attempt) =>
        IsTransient(ex, attempt)
            ? $"the model server kept failing; gave up after the last attempt: {Reason(ex, attempt)}"
            : ex is ClientResultException
                ? $"the model server refused the request: {Reason(ex, attempt)}"
                : $"the model server's response could not be read: {ex.Message}";

    private static string Reason(Exception ex, CancellationToken attempt) => ex switch
    {
        ClientResultException { Status: 0 } e => $"no response: {(e.InnerException ?? e).Message}",
        ClientResultException e => $"HTTP {e.Status}: {ServerMessage(e)}",
        OperationCanceledException when !attempt.IsCancellationRequested => "no data from the server within the network timeout",
        _ => ex.Message,
    };

    /// <summary>The server's own words: OpenAI-style `{"error":{"message":...}}`, else the start of the body.</summary>
    private static string ServerMessage(ClientResultException ex)
    {
        string body;
        try
        {
            body = ex.GetRawResponse()?.Content.ToString() ?? "";
        }
        catch (InvalidOperationException)
        {
            body = "";
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString()!;
                }
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message)
                    && message.ValueKind == JsonValueKind.String)
                {
                    return message.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
        }
        body = body.Trim();
        return body.Length == 0 ? ex.Message.Split('\n')[0].Trim()
            : body.Length > 500 ? body[..500] + "…"
            : body;
    }

    /// <summary>The server's wait (retry-after-ms, Retry-After seconds or date), capped; null lets backoff decide.</summary>
    private TimeSpan? RetryAfter(ClientResultException ex)
    {
        if (ex.GetRawResponse()?.Headers is not { } headers)
        {
            return null;
        }
        TimeSpan? wait = null;
        if (headers.TryGetValue("retry-after-ms", out var ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
        {
            wait = TimeSpan.FromMilliseconds(millis);
        }
        else if (headers.TryGetValue("Retry-After", out var after) && after is not null)
        {
            if (double.TryParse(after, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                wait = TimeSpan.FromSeconds(seconds);
            }
            else if (DateTimeOffset.TryParse(after, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                var left = at - _time.GetUtcNow();
                wait = left > TimeSpan.Zero ? left : TimeSpan.Zero;
            }
        }
        return wait is { } w && w > MaxRetryDelay ? MaxRetryDelay : wait;
    }

    // CancellationTokenSource refuses delays past about 24.8 days.
    private static TimeSpan Clamp(TimeSpan limit) =>
        limit.TotalMilliseconds >= int.MaxValue ? TimeSpan.FromMilliseconds(int.MaxValue - 1) : limit;

    private sealed record Response(string Text, ChatTokenUsage? Usage, ChatFinishReason? FinishReason);
}
