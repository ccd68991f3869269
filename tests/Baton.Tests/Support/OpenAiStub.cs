using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Baton.Tests.Support;

/// <summary>
/// A real HTTP server on 127.0.0.1 that speaks just enough of the chat-completions API (POST /v1/chat/completions,
/// streamed as server-sent events) for the OpenAI agent's tests. Paid model APIs cannot be called from tests, so each
/// test scripts the replies: streamed text, errors, silence. It records every request it gets.
/// </summary>
public sealed class OpenAiStub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<StubReply> _script = new();
    private readonly List<StubRequest> _requests = [];
    private int _completed;

    private OpenAiStub(WebApplication app)
    {
        _app = app;
        app.MapPost("/v1/chat/completions", HandleAsync);
    }

    /// <summary>The base URL to configure, as for any OpenAI-compatible server: http://127.0.0.1:port/v1.</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>The reply once the script has run out.</summary>
    public StubReply Default { get; set; } = StubReply.Stream("ok");

    public IReadOnlyList<StubRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Responses written to their end (a streamed one through `data: [DONE]`).</summary>
    public int Completed => Volatile.Read(ref _completed);

    public static async Task<OpenAiStub> StartAsync()
    {
        var stub = new OpenAiStub(LoopbackApp.Build());
        await stub._app.StartAsync();
        stub.BaseUrl = LoopbackApp.AddressOf(stub._app) + "/v1";
        return stub;
    }

    /// <summary>Replies for the next requests, in order.</summary>
    public void Then(params StubReply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        lock (_requests)
        {
            _requests.Add(new StubRequest(context.Request.Headers.Authorization.ToString(), body));
        }
        var reply = _script.TryDequeue(out var next) ? next : Default;
        var aborted = context.RequestAborted;
        switch (reply)
        {
            case ErrorReply error:
                context.Response.StatusCode = error.Status;
                if (error.RetryAfter is not null)
                {
                    context.Response.Headers.RetryAfter = error.RetryAfter;
                }
                await context.Response.WriteAsJsonAsync(
                    new { error = new { message = error.Message, type = "stub_error", code = (string?)null } }, aborted);
                break;
            case StallReply stall:
                await Task.Delay(stall.For, aborted);
                context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
                break;
            case StreamReply stream:
                await StreamAsync(context.Response, stream, aborted);
                break;
        }
        Interlocked.Increment(ref _completed);
    }

    private static async Task StreamAsync(HttpResponse response, StreamReply reply, CancellationToken aborted)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < reply.Chunks.Count; i++)
        {
            if (reply.Hold is { } hold && i == reply.HoldBefore)
            {
                // Bounded, so a test whose agent never opens the gate fails on its assertions rather than hanging.
                await Task.WhenAny(hold, Task.Delay(reply.HoldAtMost, aborted));
                aborted.ThrowIfCancellationRequested();
            }
            var delta = new JsonObject { ["content"] = reply.Chunks[i] };
            if (i == 0)
            {
                delta["role"] = "assistant";
            }
            await WriteEventAsync(response, Chunk(new JsonArray(Choice(delta, finish: null))), aborted);
        }
        await WriteEventAsync(response, Chunk(new JsonArray(Choice(new JsonObject(), finish: "stop"))), aborted);
        if (reply.Usage is { } usage)
        {
            var last = Chunk(new JsonArray());
            last["usage"] = new JsonObject
            {
                ["prompt_tokens"] = usage.In,
                ["completion_tokens"] = usage.Out,
                ["total_tokens"] = usage.In + usage.Out,
            };
            await WriteEventAsync(response, last, aborted);
        }
        await response.WriteAsync("data: [DONE]\n\n", aborted);
        await response.Body.FlushAsync(aborted);
    }

    private static JsonObject Chunk(JsonArray choices) => new()
    {
        ["id"] = "chatcmpl-stub",
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = "stub-model",
        ["choices"] = choices,
    };

    private static JsonObject Choice(JsonObject delta, string? finish) => new()
    {
        ["index"] = 0,
        ["delta"] = delta,
        ["finish_reason"] = finish,
    };

    private static async Task WriteEventAsync(HttpResponse response, JsonObject data, CancellationToken aborted)
    {
        await response.WriteAsync("data: " + data.ToJsonString() + "\n\n", aborted);
        // Each event leaves at once, as a model server's do: the agent's live log depends on it.
        await response.Body.FlushAsync(aborted);
    }
}

public sealed record StubRequest(string Authorization, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}

public abstract record StubReply
{
    /// <summary>Streams the chunks as content deltas, then a finish chunk, a usage chunk (unless null) and [DONE].</summary>
    public static StreamReply Stream(params string[] chunks) => new(chunks);

    public static ErrorReply Error(int status, string message, string? retryAfter = null) => new(status, message, retryAfter);

    /// <summary>Sends nothing for a while (not even headers), then gives up with 504.</summary>
    public static StallReply Stall(TimeSpan duration) => new(duration);
}

public sealed record StreamReply(IReadOnlyList<string> Chunks) : StubReply
{
    public (int In, int Out)? Usage { get; init; } = (12, 34);

    /// <summary>When set, the stream pauses before chunk <see cref="HoldBefore"/> until this task completes.</summary>
    public Task? Hold { get; init; }

    public int HoldBefore { get; init; }

    public TimeSpan HoldAtMost { get; init; } = TimeSpan.FromSeconds(10);
}

public sealed record ErrorReply(int Status, string Message, string? RetryAfter) : StubReply;

public sealed record StallReply(TimeSpan For) : StubReply;
