using System.Globalization;
using Baton.Client;

namespace Baton.Cli;

/// <summary>How standalone executions read in a terminal: shared by `exec show`, `exec cancel` and `exec run --watch`.</summary>
public static class ExecutionView
{
    /// <summary>Log lines shown with an execution: enough to see how it ended, short enough to keep the outcome in view.</summary>
    public const int LogLines = 10;

    public static bool Finished(ExecutionInfo execution) => ExitCodes.ForExecution(execution.Status) is not null;

    /// <summary>"success", or "error: git failed": the status with why it ended, when it did not succeed.</summary>
    public static string Outcome(ExecutionInfo execution) =>
        execution.Status + (execution.ErrorMessage is { Length: > 0 } error && error != execution.Status ? $": {RunView.OneLine(error, 200)}" : "");

    /// <summary>Files listed on one line: the first few, then how many more.</summary>
    private const int FilesShown = 5;

    private static string Files(IReadOnlyList<string> paths) =>
        string.Join(", ", paths.Take(FilesShown).Select(p => RunView.OneLine(p, 80)))
        + (paths.Count > FilesShown ? $" and {(paths.Count - FilesShown).ToString(CultureInfo.InvariantCulture)} more" : "");

    /// <summary>"passed: 2 of 2", "failed: 1 of 2 passed", "passed" (no counts), or "-" when none ran.</summary>
    private static string Tests(ExecutionOutput output) => (output.TestsRun, output.Tests) switch
    {
        (false, _) => "-",
        (true, { } t) => $"{(output.TestsPassed ? "passed" : "failed")}: {t.Passed.ToString(CultureInfo.InvariantCulture)} of {t.Total.ToString(CultureInfo.InvariantCulture)} passed",
        (true, null) => output.TestsPassed ? "passed" : "failed",
    };

    // logs: false when the log lines were shown already (`exec run --watch` streams them).
    public static void WriteDetail(Terminal terminal, ExecutionInfo execution, bool diff, bool logs = true)
    {
        var output = execution.Output;
        var rows = new List<(string Label, Piece Value)>
        {
            ("Execution", $"{execution.Id}  (worker {execution.WorkerId})"),
            ("Work item", execution.WorkItemId ?? "-"),
            ("Status", new Piece(Outcome(execution), Terminal.ToneOf(execution.Status))),
            ("Created", RunView.Time(execution.CreatedAt)),
            ("Started", RunView.Time(execution.StartedAt)),
            ("Finished", RunView.Time(execution.CompletedAt)),
            ("Duration", RunView.Duration(execution.DurationMs)),
            ("Summary", output.Summary is { Length: > 0 } summary ? RunView.OneLine(summary, 200) : "-"),
            ("Files", output.FilesChanged.Count == 0 ? "none changed" : Files(output.FilesChanged)),
            ("Tests", Tests(output)),
            ("Usage", $"{execution.TokensUsed.ToString(CultureInfo.InvariantCulture)} tokens, {RunView.Money(execution.CostUsd, unknown: false)}, {execution.ToolCallsCount.ToString(CultureInfo.InvariantCulture)} tool calls"),
        };
        foreach (var (label, value) in rows)
        {
            terminal.Line((label + ":").PadRight(11), value);
        }
        if (logs && output.Logs.Count > 0)
        {
            terminal.Blank();
            terminal.Line(new Piece(output.Logs.Count > LogLines ? $"Log (last {LogLines} lines):" : "Log:", Tone.Bold));
            foreach (var line in output.Logs.TakeLast(LogLines))
            {
                terminal.Line(new Piece("  " + line, Tone.Dim));
            }
        }
        if (!diff)
        {
            if (output.Diff is { Length: > 0 })
            {
                terminal.Blank();
                terminal.Line(new Piece($"The diff: baton exec show {execution.Id} --diff", Tone.Dim));
            }
            return;
        }
        terminal.Blank();
        if (output.Diff is not { Length: > 0 } patch)
        {
            terminal.Line("No diff" + (Finished(execution) ? "." : " yet."));
            return;
        }
        foreach (var line in patch.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'))
        {
            terminal.Line(new Piece(line, line switch
            {
                _ when line.StartsWith("+++", StringComparison.Ordinal) || line.StartsWith("---", StringComparison.Ordinal) => Tone.Bold,
                _ when line.StartsWith('+') => Tone.Good,
                _ when line.StartsWith('-') => Tone.Bad,
                _ when line.StartsWith("@@", StringComparison.Ordinal) => Tone.Info,
                _ => Tone.Plain,
            }));
        }
    }
}
