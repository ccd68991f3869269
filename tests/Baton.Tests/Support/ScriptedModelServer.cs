using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Baton.Tests.Support;

/// <summary>
/// A model server for the real agent programs: a real HTTP server on 127.0.0.1 that speaks the two wire protocols they
/// use, streamed — Anthropic Messages (POST /v1/messages, Claude Code) and OpenAI Responses (POST /v1/responses,
/// Codex). Each request gets the next turn of the test's script: a tool call (write or edit a file, run a command,
/// apply a patch), a final text, an HTTP error, or a long pause. Token counts are fixed per turn, so a test can assert
/// exact usage, and every request is logged (a later turn can wait for the tool result the agent sends back).
/// </summary>
public sealed class ScriptedModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Queue<ModelTurn> _script = new();
    private readonly List<ModelRequest> _requests = [];
    private readonly Channel<ModelRequest> _arrivals = Channel.CreateUnbounded<ModelRequest>();

    private ScriptedModelServer(WebApplication app)
    {
        _app = app;
        app.MapPost("/v1/messages", context => HandleAsync(context, ModelProtocol.AnthropicMessages));
        app.MapPost("/v1/responses", context => HandleAsync(context, ModelProtocol.OpenAiResponses));
    }

    /// <summary>http://127.0.0.1:port — ANTHROPIC_BASE_URL as it is; Codex's provider base_url is this + "/v1".</summary>
    public string Address { get; private set; } = "";

    /// <summary>Every request, in the order it came.</summary>
    public IReadOnlyList<ModelRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Requests the script had no turn for (each got an HTTP 500 saying so).</summary>
    public int Unscripted { get; private set; }

    public static async Task<ScriptedModelServer> StartAsync()
    {
        var server = new ScriptedModelServer(LoopbackApp.Build());
        await server._app.StartAsync();
        server.Address = LoopbackApp.AddressOf(server._app);
        return server;
    }

    /// <summary>Replaces the script: the next requests get these turns, one each, in order.</summary>
    public void Play(params ModelTurn[] turns)
    {
        lock (_script)
        {
            _script.Clear();
            foreach (var turn in turns)
            {
                _script.Enqueue(turn);
            }
        }
        lock (_requests)
        {
            _requests.Clear();
        }
        while (_arrivals.Reader.TryRead(out _))
        {
        }
    }

    /// <summary>The next request to arrive (or one that arrived since the last call), within the time given.</summary>
    public async Task<ModelRequest> NextRequestAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            return await _arrivals.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no request reached the model server within {within}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context, ModelProtocol protocol)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var request = new ModelRequest(protocol, context.Request.Path + context.Request.QueryString, body);
        lock (_requests)
        {
            _requests.Add(request);
        }
        _arrivals.Writer.TryWrite(request);
        ModelTurn? turn;
        lock (_script)
        {
            _script.TryDequeue(out turn);
        }
        var aborted = context.RequestAborted;
        if (turn is null)
        {
            Unscripted++;
            await ErrorAsync(context.Response, protocol, 500, "the test's script has no turn for this request", aborted);
            return;
        }
        if (turn.TextFrom is { } textFrom)
        {
            turn = turn with { Text = textFrom(request) };
        }
        if (turn.PauseFor is { } pause)
        {
            // Nothing, not even headers, until the pause ends or the agent hangs up (killed, cancelled).
            await Task.Delay(pause, aborted);
        }
        if (turn.ErrorStatus is { } status)
        {
            await ErrorAsync(context.Response, protocol, status, turn.Text ?? "scripted error", aborted);
            return;
        }
        var messageId = "msg_" + Guid.NewGuid().ToString("N")[..20];
        if (protocol == ModelProtocol.AnthropicMessages)
        {
            await AnthropicAsync(context.Response, request, turn, messageId, aborted);
        }
        else
        {
            await ResponsesAsync(context.Response, turn, messageId, aborted);
        }
    }

    private static async Task ErrorAsync(HttpResponse response, ModelProtocol protocol, int status, string message, CancellationToken aborted)
    {
        response.StatusCode = status;
        // The real APIs' clients retry 5xx and 429 with backoff (Claude Code ten times by default); the header is the
        // Stainless SDKs' own "do not retry", so one scripted error is one request and the test does not wait minutes.
        response.Headers["x-should-retry"] = "false";
        object error = protocol == ModelProtocol.AnthropicMessages
            ? new { type = "error", error = new { type = status == 529 ? "overloaded_error" : "api_error", message } }
            : new { error = new { message, type = "server_error", code = (string?)null } };
        await response.WriteAsJsonAsync(error, aborted);
    }

    private static async Task AnthropicAsync(HttpResponse response, ModelRequest request, ModelTurn turn, string messageId, CancellationToken aborted)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var model = request.Json.TryGetProperty("model", out var m) ? m.GetString() : "claude-sonnet-4-5";
        await SseAsync(response, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = messageId, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                ["stop_reason"] = null, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = turn.InputTokens, ["output_tokens"] = 1 },
            },
        }, aborted);
        var index = 0;
        if (turn.Text is { } text)
        {
            await SseAsync(response, "content_block_start", new JsonObject
            {
                ["type"] = "content_block_start", ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
            }, aborted);
            await SseAsync(response, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = text },
            }, aborted);
            await SseAsync(response, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index }, aborted);
            index++;
        }
        if (turn.Tool is { } tool)
        {
            var (name, input) = tool.ForClaudeCode(request.WorkingDirectory);
            await SseAsync(response, "content_block_start", new JsonObject
            {
                ["type"] = "content_block_start", ["index"] = index,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = tool.CallId, ["name"] = name, ["input"] = new JsonObject() },
            }, aborted);
            await SseAsync(response, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = index,
                ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = input.ToJsonString() },
            }, aborted);
            await SseAsync(response, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index }, aborted);
        }
        await SseAsync(response, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = turn.Tool is null ? "end_turn" : "tool_use", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = turn.OutputTokens },
        }, aborted);
        await SseAsync(response, "message_stop", new JsonObject { ["type"] = "message_stop" }, aborted);
    }

    private static async Task ResponsesAsync(HttpResponse response, ModelTurn turn, string responseId, CancellationToken aborted)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await SseAsync(response, "response.created", new JsonObject
        {
            ["type"] = "response.created", ["response"] = new JsonObject { ["id"] = responseId, ["status"] = "in_progress" },
        }, aborted);
        var output = new JsonArray();
        if (turn.Text is { } text)
        {
            output.Add(new JsonObject
            {
                ["type"] = "message", ["id"] = responseId + "_text", ["role"] = "assistant", ["status"] = "completed",
                ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() }),
            });
        }
        if (turn.Tool is { } tool)
        {
            output.Add(tool.ForCodex());
        }
        foreach (var item in output)
        {
            await SseAsync(response, "response.output_item.done", new JsonObject { ["type"] = "response.output_item.done", ["item"] = item!.DeepClone() }, aborted);
        }
        await SseAsync(response, "response.completed", new JsonObject
        {
            ["type"] = "response.completed",
            ["response"] = new JsonObject
            {
                ["id"] = responseId, ["status"] = "completed", ["output"] = output,
                ["usage"] = new JsonObject
                {
                    ["input_tokens"] = turn.InputTokens,
                    ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = turn.CachedInputTokens },
                    ["output_tokens"] = turn.OutputTokens,
                    ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
                    ["total_tokens"] = turn.InputTokens + turn.OutputTokens,
                },
            },
        }, aborted);
    }

    private static async Task SseAsync(HttpResponse response, string name, JsonObject data, CancellationToken aborted)
    {
        await response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", aborted);
        await response.Body.FlushAsync(aborted);
    }
}

public enum ModelProtocol
{
    AnthropicMessages,
    OpenAiResponses,
}

public sealed partial record ModelRequest(ModelProtocol Protocol, string Path, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    /// <summary>The agent's working folder, as Claude Code tells its model in the system prompt.</summary>
    public string? WorkingDirectory => WorkingDirectoryLine().Match(Body) is { Success: true } m ? m.Groups[1].Value : null;

    [System.Text.RegularExpressions.GeneratedRegex(@"Primary working directory: ([^\\""\s]+)")]
    private static partial System.Text.RegularExpressions.Regex WorkingDirectoryLine();

    /// <summary>
    /// What the agent sent back for a tool call (Anthropic `tool_result` content, Responses `function_call_output` /
    /// `custom_tool_call_output`), or null when this request carries none for that call.
    /// </summary>
    public string? ToolResult(string callId)
    {
        var json = Json;
        if (Protocol == ModelProtocol.AnthropicMessages)
        {
            foreach (var message in json.GetProperty("messages").EnumerateArray())
            {
                if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
                {
                    foreach (var block in content.EnumerateArray())
                    {
                        if (block.TryGetProperty("type", out var t) && t.GetString() == "tool_result" && block.GetProperty("tool_use_id").GetString() == callId)
                        {
                            var result = block.GetProperty("content");
                            return result.ValueKind == JsonValueKind.String ? result.GetString()
                                : string.Concat(result.EnumerateArray().Select(p => p.TryGetProperty("text", out var x) ? x.GetString() : ""));
                        }
                    }
                }
            }
            return null;
        }
        foreach (var item in json.GetProperty("input").EnumerateArray())
        {
            if (item.TryGetProperty("call_id", out var id) && id.GetString() == callId && item.TryGetProperty("output", out var output))
            {
                return output.ValueKind == JsonValueKind.String ? output.GetString() : output.GetRawText();
            }
        }
        return null;
    }
}

/// <summary>A tool call the model makes, in the shape each program's tools take.</summary>
public abstract record ToolCall
{
    public string CallId { get; } = "toolu_" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>Claude Code's tool name and input; its file tools take absolute paths, so relative ones are resolved against its folder.</summary>
    public abstract (string Name, JsonObject Input) ForClaudeCode(string? workingDirectory);

    protected static string Absolute(string path, string? workingDirectory) =>
        System.IO.Path.IsPathRooted(path) || workingDirectory is null ? path : System.IO.Path.Combine(workingDirectory, path);

    /// <summary>The Responses output item Codex runs.</summary>
    public abstract JsonObject ForCodex();

    protected JsonObject Function(string name, JsonObject arguments) => new()
    {
        ["type"] = "function_call", ["id"] = "fc_" + CallId, ["call_id"] = CallId, ["name"] = name, ["arguments"] = arguments.ToJsonString(),
        ["status"] = "completed",
    };

    protected JsonObject Patch(string patch) => new()
    {
        ["type"] = "custom_tool_call", ["id"] = "ctc_" + CallId, ["call_id"] = CallId, ["name"] = "apply_patch", ["input"] = patch,
        ["status"] = "completed",
    };
}

/// <summary>Write a whole file (Claude Code: Write; Codex: apply_patch's Add File); a relative path is in the agent's folder.</summary>
public sealed record WriteFile(string Path, string Content) : ToolCall
{
    public override (string, JsonObject) ForClaudeCode(string? workingDirectory) =>
        ("Write", new JsonObject { ["file_path"] = Absolute(Path, workingDirectory), ["content"] = Content });

    public override JsonObject ForCodex() =>
        Patch($"*** Begin Patch\n*** Add File: {Path}\n{string.Concat(Content.TrimEnd('\n').Split('\n').Select(l => "+" + l + "\n"))}*** End Patch\n");
}

/// <summary>Replace a string in a file (Claude Code: Edit).</summary>
public sealed record EditFile(string Path, string OldString, string NewString) : ToolCall
{
    public override (string, JsonObject) ForClaudeCode(string? workingDirectory) =>
        ("Edit", new JsonObject { ["file_path"] = Absolute(Path, workingDirectory), ["old_string"] = OldString, ["new_string"] = NewString });

    public override JsonObject ForCodex() =>
        Patch($"*** Begin Patch\n*** Update File: {Path}\n@@\n-{OldString}\n+{NewString}\n*** End Patch\n");
}

/// <summary>Run a shell command (Claude Code: Bash; Codex: exec_command).</summary>
public sealed record RunCommand(string Command) : ToolCall
{
    public override (string, JsonObject) ForClaudeCode(string? workingDirectory) => ("Bash", new JsonObject { ["command"] = Command, ["description"] = "scripted command" });

    public override JsonObject ForCodex() => Function("exec_command", new JsonObject { ["cmd"] = Command });
}

/// <summary>A patch in apply_patch's own format (Codex only).</summary>
public sealed record ApplyPatch(string PatchText) : ToolCall
{
    public override (string, JsonObject) ForClaudeCode(string? workingDirectory) => throw new NotSupportedException("Claude Code has no apply_patch tool");

    public override JsonObject ForCodex() => Patch(PatchText);
}

/// <summary>
/// One reply of the model: a tool call and/or text (a turn without a tool call ends the agent's loop), an HTTP error,
/// optionally after a pause; with fixed token counts.
/// </summary>
public sealed record ModelTurn
{
    public ToolCall? Tool { get; init; }

    public string? Text { get; init; }

    /// <summary>The text made from the request (e.g. what the agent sent back for the last tool call), instead of <see cref="Text"/>.</summary>
    public Func<ModelRequest, string>? TextFrom { get; init; }

    public int? ErrorStatus { get; init; }

    public TimeSpan? PauseFor { get; init; }

    public int InputTokens { get; init; } = 100;

    public int CachedInputTokens { get; init; }

    public int OutputTokens { get; init; } = 20;

    public static ModelTurn Call(ToolCall tool, int inputTokens = 100, int outputTokens = 20) =>
        new() { Tool = tool, InputTokens = inputTokens, OutputTokens = outputTokens };

    public static ModelTurn Final(string text, int inputTokens = 100, int outputTokens = 20) =>
        new() { Text = text, InputTokens = inputTokens, OutputTokens = outputTokens };

    /// <summary>A final text made from the request: `ModelTurn.FinalFrom(r => r.ToolResult(call.CallId) ?? "no result")`.</summary>
    public static ModelTurn FinalFrom(Func<ModelRequest, string> text) => new() { TextFrom = text };

    public static ModelTurn Error(int status, string message) => new() { ErrorStatus = status, Text = message };

    /// <summary>Holds the request this long before answering with the text (a cancel test kills the agent meanwhile).</summary>
    public static ModelTurn Pause(TimeSpan duration, string then = "done") => new() { PauseFor = duration, Text = then };
}
