using System.Text.Json;

namespace Baton.Agents;

/// <summary>
/// Reads token use, cost and tool calls from an agent's stdout, line by line:
/// Claude Code's `--output-format json` result ({"type":"result", "total_cost_usd", "usage", "num_turns", "result"}),
/// and a generic line any script can print: {"baton_usage": {"tokens_in", "tokens_out", "cost_usd", "tool_calls", "summary"}}.
/// Generic lines add up; Claude's result is the total.
/// </summary>
public sealed class UsageParser(string? mode)
{
    public const string Auto = "auto";
    public const string Claude = "claude";
    public const string Generic = "generic";
    public const string None = "none";

    public static readonly string[] Modes = [Auto, Claude, Generic, None];

    private readonly string _mode = mode ?? Auto;

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
                    Long(usage, "input_tokens") + Long(usage, "cache_creation_input_tokens") + Long(usage, "cache_read_input_tokens"),
                    Long(usage, "output_tokens"),
                    Decimal(root, "total_cost_usd"),
                    (int)Long(root, "num_turns"));
                Summary = root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.String ? result.GetString() : Summary;
            }
            else if (_mode is Auto or Generic && root.TryGetProperty("baton_usage", out var generic) && generic.ValueKind == JsonValueKind.Object)
            {
                Usage = Usage.Add(new AgentUsage(Long(generic, "tokens_in"), Long(generic, "tokens_out"), Decimal(generic, "cost_usd"), (int)Long(generic, "tool_calls")));
                Summary = generic.TryGetProperty("summary", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : Summary;
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: an ordinary output line.
        }
    }

    private static long Long(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0 ? n : 0;

    private static decimal Decimal(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= 0 ? d : 0m;
}
