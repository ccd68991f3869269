using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run metrics`: tokens, cost, time, executions and decisions, in all and per phase.</summary>
public sealed class RunMetricsCommand : ClientCommand
{
    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<bool> _json = JsonOption("the totals and phases[]");

    public RunMetricsCommand()
        : base("metrics", "Show a run's tokens, cost, durations, executions, tests and decisions.",
            "baton run metrics run_01JD3X...",
            "baton run metrics run_01JD3X... --json | jq .cost_usd")
    {
        Arguments.Add(_run);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var m = await client.GetMetricsAsync(parseResult.GetValue(_run)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, m);
            return ExitCodes.Ok;
        }
        static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        terminal.Line($"Run:         {m.RunId}");
        terminal.Line($"Duration:    {RunView.Duration(m.DurationMs)}");
        terminal.Line($"Cost:        {RunView.Money(m.CostUsd, m.CostUnknown)}");
        terminal.Line($"Tokens:      {N(m.TokensUsed)} ({N(m.TokensIn)} in, {N(m.TokensOut)} out)");
        terminal.Line($"Executions:  {N(m.Executions)}, {N(m.ToolCalls)} tool calls");
        terminal.Line($"Tests:       {N(m.TestsPassed)} of {N(m.TestsRun)} passed");
        terminal.Line($"Iterations:  {N(m.Iterations)}; {N(m.Approvals)} approval(s), {N(m.Rejections)} rejection(s)");
        if (m.Phases.Count > 0)
        {
            terminal.Blank();
            Table.Write(terminal,
                ["PHASE", "ITERS", "EXECS", "DURATION", "TOKENS IN", "TOKENS OUT", "COST", "TOOLS", "TESTS"],
                m.Phases.Select(p => new[]
                {
                    p.Phase, N(p.Iterations), N(p.Executions), RunView.Duration(p.DurationMs), N(p.TokensIn), N(p.TokensOut),
                    RunView.Money(p.CostUsd, p.CostUnknown), N(p.ToolCalls), $"{N(p.TestsPassed)}/{N(p.TestsRun)}",
                }));
        }
        return ExitCodes.Ok;
    }
}
