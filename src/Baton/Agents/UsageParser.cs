using System.Text.Json;

namespace Baton.Agents;

/// <summary>
/// Reads token use, cost and tool calls from an agent's stdout, line by line:
/// Claude Code's `--output-format json` result ({"type":"result", "total_cost_usd", "usage", "num_turns", "result"}),
/// Codex's `exec --json` events (each `turn.completed` carries that turn's tokens, never a cost: the cost comes from
/// the worker's prices), and a generic line any script can print:
/// {"baton_usage": {"tokens_in", "tokens_out", "cost_usd", "tool_calls", "summary"}}.
/// Generic lines and Codex turns add up; Claude's result is the total.
/// </summary>
public sealed class UsageParser(string? mode, TokenPrices? prices = null)
{
    public const string Auto = "auto";
    public const string Claude = "claude";
    public const string Codex = "codex";
    public const string Generic = "generic";
    public const string None = "none";

    public static readonly string[] Modes = [Auto, Claude, Codex, Generic, None];

    private readonly string _mode = mode ?? Auto;

    /// <summary>The program's own account of why it failed (Claude's is_error result, Codex's turn.failed or error event).</summary>
    public string? Error { get; private set; }


    public AgentUsage Usage { get; private set; } = AgentUsage.None;

    public string? Summary { get; private set; }

    public string? LastLine { get; private set; }

    public void Observe(string line)
    {
        var trimmed = line.Trim();
        if (trimmed.Length > 0)
        {
            LastLine = trimmed;
        }
        if (_mode == None || trimmed.Length < 2 || trimmed[0] != '{' || trimmed[^1] != '}')
        {
            return;
        }
        try
        {
            using var doc = JsonDocument.Parse(trimmed);
            var root = doc.RootElement;
            if (_mode is Auto or Claude && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "result")
            {
                var usage = root.TryGetProperty("usage", out var u) ? u : default;
                Usage = new AgentUsage(
                    Math.Min(Long(usage, "input_tokens") + Long(usage, "cache_creation_input_tokens") + Long(usage, "cache_read_input_tokens"), AgentUsage.MaxTokens),
                    Long(usage, "output_tokens"),
                    Decimal(root, "total_cost_usd"),
                    Count(root, "num_turns"));
                Summary = root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.String ? result.GetString() : Summary;
                // An API error still ends in a result (its subtype may even say success): is_error and the text say what went wrong.
                if (root.TryGetProperty("is_error", out var isError) && isError.ValueKind == JsonValueKind.True)
                {
                    Error = Summary ?? "the result says is_error";
                }
            }
            else if (_mode is Auto or Codex && root.TryGetProperty("type", out var codexType) && codexType.ValueKind == JsonValueKind.String
                && codexType.GetString() is "turn.completed" or "item.completed" or "turn.failed" or "error")
            {
                ObserveCodex(codexType.GetString(), root);
            }
            else if (_mode is Auto or Generic && root.TryGetProperty("baton_usage", out var generic) && generic.ValueKind == JsonValueKind.Object)
            {
                Usage = Usage.Add(new AgentUsage(Long(generic, "tokens_in"), Long(generic, "tokens_out"), Decimal(generic, "cost_usd"), Count(generic, "tool_calls")));
                Summary = generic.TryGetProperty("summary", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : Summary;
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: an ordinary output line.
        }
    }

    private void ObserveCodex(string? type, JsonElement root)
    {
        switch (type)
        {
            case "turn.completed" when root.TryGetProperty("usage", out var usage):
                var input = Long(usage, "input_tokens");
                var cached = Math.Min(Long(usage, "cached_input_tokens"), input);
                var output = Long(usage, "output_tokens");
                // Without the worker's prices the cost is unknown, not zero.
                var cost = prices?.Cost(input - cached, cached, output);
                Usage = Usage.Add(new AgentUsage(input, output, Math.Round(Math.Min(cost ?? 0m, AgentUsage.MaxCostUsd), 10), 0, cost is null));
                break;
            case "item.completed" when root.TryGetProperty("item", out var item) && item.ValueKind == JsonValueKind.Object:
                var itemType = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                if (itemType == "agent_message" && item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    Summary = text.GetString();
                }
                else if (itemType is "command_execution" or "file_change" or "mcp_tool_call" or "web_search")
                {
                    Usage = Usage.Add(new AgentUsage(0, 0, 0, 1));
                }
                break;
            case "turn.failed" when root.TryGetProperty("error", out var error):
                Error = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : error.GetRawText();
                break;
            case "error" when root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String:
                Error = message.GetString();
                break;
        }
    }

    /// <summary>A token count, 0 when absent or negative, at most <see cref="AgentUsage.MaxTokens"/>.</summary>
    private static long Long(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0
            ? Math.Min(n, AgentUsage.MaxTokens) : 0;

    private static int Count(JsonElement element, string name) => (int)Math.Min(Long(element, name), AgentUsage.MaxToolCalls);

    /// <summary>
    /// A cost to the 1e-10 dollar Baton keeps (numeric(20,10)): Claude Code prices in JavaScript doubles
    /// (0.016399999999999998), and that is 0.0164 here, on the execution and in every sum of it.
    /// </summary>
    private static decimal Decimal(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= 0
            ? Math.Round(Math.Min(d, AgentUsage.MaxCostUsd), 10, MidpointRounding.ToEven) : 0m;
}

/// <summary>A worker's prices, US dollars per million tokens; cached input costs the input price unless it has its own.</summary>
public sealed record TokenPrices(decimal? Input, decimal? CachedInput, decimal? Output)
{
    public static TokenPrices Of(WorkerConfig config) => new(config.InputPricePerMtok, config.CachedInputPricePerMtok, config.OutputPricePerMtok);

    /// <returns>The cost, or null when a price it needs is missing.</returns>
    public decimal? Cost(long input, long cachedInput, long output)
    {
        if ((input > 0 && Input is null) || (cachedInput > 0 && (CachedInput ?? Input) is null) || (output > 0 && Output is null))
        {
            return null;
        }
        return ((input * (Input ?? 0)) + (cachedInput * (CachedInput ?? Input ?? 0)) + (output * (Output ?? 0))) / 1_000_000m;
    }
}
