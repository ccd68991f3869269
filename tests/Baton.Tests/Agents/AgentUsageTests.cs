using Baton.Agents;
using Baton.Client;

namespace Baton.Tests.Agents;

/// <summary>Usage read from the programs' own output lines (as Claude Code and Codex print them), and Codex's config file.</summary>
public sealed class AgentUsageTests
{
    private static readonly string[] CodexTurns =
    [
        """{"type":"thread.started","thread_id":"t"}""",
        """{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[],"status":"completed"}}""",
        """{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"ls","exit_code":0,"status":"completed"}}""",
        """{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"done"}}""",
        """{"type":"turn.completed","usage":{"input_tokens":3500,"cached_input_tokens":1200,"output_tokens":120,"reasoning_output_tokens":0}}""",
        """{"type":"turn.completed","usage":{"input_tokens":500,"cached_input_tokens":0,"output_tokens":80}}""",
    ];

    [Fact]
    public void Codex_turns_add_up_and_are_priced_with_the_workers_prices()
    {
        var parser = new UsageParser(UsageParser.Codex, new TokenPrices(1.25m, 0.125m, 10m));
        foreach (var line in CodexTurns)
        {
            parser.Observe(line);
        }
        Assert.Equal(new AgentUsage(4000, 200, (2800 * 1.25m + 1200 * 0.125m + 200 * 10m) / 1_000_000m, 2), parser.Usage);
        Assert.Equal("done", parser.Summary);
        Assert.Null(parser.Error);
    }

    [Theory]
    [InlineData(UsageParser.Claude, "{\"type\":\"result\",\"usage\":{\"input_tokens\":99999999999999999,\"output_tokens\":9223372036854775807},\"total_cost_usd\":1e30,\"num_turns\":9999999999999}")]
    [InlineData(UsageParser.Codex, "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":9223372036854775807,\"output_tokens\":9223372036854775807}}")]
    [InlineData(UsageParser.Auto, "{\"baton_usage\":{\"tokens_in\":9223372036854775807,\"tokens_out\":1,\"cost_usd\":79228162514264337593543950335,\"tool_calls\":9999999999}}")]
    public void Usage_an_agent_claims_beyond_reason_is_capped_not_an_overflow(string mode, string line)
    {
        var parser = new UsageParser(mode, new TokenPrices(1000m, 1000m, 1000m));
        for (var i = 0; i < 3; i++)
        {
            parser.Observe(line);
        }
        Assert.InRange(parser.Usage.TokensIn, 0, AgentUsage.MaxTokens);
        Assert.InRange(parser.Usage.TokensOut, 0, AgentUsage.MaxTokens);
        Assert.InRange(parser.Usage.CostUsd, 0m, AgentUsage.MaxCostUsd);
        Assert.InRange(parser.Usage.ToolCalls, 0, AgentUsage.MaxToolCalls);
    }

    [Fact]
    public void A_generic_usage_line_with_a_type_of_its_own_still_counts()
    {
        var parser = new UsageParser(UsageParser.Auto);
        parser.Observe("{\"type\":\"progress\",\"baton_usage\":{\"tokens_in\":10,\"tokens_out\":5,\"cost_usd\":0.01,\"tool_calls\":1}}");
        Assert.Equal(new AgentUsage(10, 5, 0.01m, 1), parser.Usage);
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData(1.25, null, null)]
    [InlineData(null, null, 10.0)]
    public void Codex_tokens_without_a_price_they_need_have_an_unknown_cost(double? input, double? cached, double? output)
    {
        var parser = new UsageParser(UsageParser.Auto, new TokenPrices((decimal?)input, (decimal?)cached, (decimal?)output));
        foreach (var line in CodexTurns)
        {
            parser.Observe(line);
        }
        Assert.Equal((4000L, 200L, 0m, true), (parser.Usage.TokensIn, parser.Usage.TokensOut, parser.Usage.CostUsd, parser.Usage.CostUnknown));
    }

    [Fact]
    public void The_programs_own_error_is_read_from_claudes_result_and_codexs_turn_failed()
    {
        var claude = new UsageParser(UsageParser.Claude);
        claude.Observe("""{"type":"result","subtype":"success","is_error":true,"result":"API Error: 529 Overloaded","total_cost_usd":0,"usage":{}}""");
        Assert.Equal("API Error: 529 Overloaded", claude.Error);

        var codex = new UsageParser(UsageParser.Codex);
        codex.Observe("""{"type":"error","message":"Reconnecting... 1/5 (unexpected status 529)"}""");
        codex.Observe("""{"type":"turn.failed","error":{"message":"unexpected status 529: Overloaded"}}""");
        Assert.Equal("unexpected status 529: Overloaded", codex.Error);
    }

    [Fact]
    public void Codex_config_quotes_every_value_and_takes_the_base_url_from_the_named_variable()
    {
        var codex = new CodexSettings("gpt-5.5", "https://api.openai.com/v1", "MODEL_URL", SandboxMode: "danger-full-access");
        var toml = CodexHome.Render(codex, name => name == "MODEL_URL" ? "http://127.0.0.1:9/v1?x=\"\n[evil]" : null);
        Assert.Contains("base_url = \"http://127.0.0.1:9/v1?x=\\\"\\u000A[evil]\"\n", toml, StringComparison.Ordinal);
        Assert.DoesNotContain("\n[evil]", toml, StringComparison.Ordinal);
        Assert.Contains("approval_policy = \"never\"\n", toml, StringComparison.Ordinal);
        Assert.Contains("sandbox_mode = \"danger-full-access\"\n", toml, StringComparison.Ordinal);
        Assert.Contains("wire_api = \"responses\"\n", toml, StringComparison.Ordinal);
        Assert.Contains("[analytics]\nenabled = false\n", toml, StringComparison.Ordinal);
        Assert.Contains("base_url = \"https://api.openai.com/v1\"\n", CodexHome.Render(codex, _ => null), StringComparison.Ordinal);
    }
}
