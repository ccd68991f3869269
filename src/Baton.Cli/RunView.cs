using System.Globalization;
using System.Text.Json;
using Baton.Client;

namespace Baton.Cli;

/// <summary>How runs read in a terminal: shared by `run show`, the run actions and `run watch`.</summary>
public static class RunView
{
    /// <summary>The API's JSON, on one line: what --json prints, so scripts get exactly the documented shapes.</summary>
    public static void WriteJson<T>(TextWriter output, T value) => output.WriteLine(JsonSerializer.Serialize(value, BatonJson.Options));

    public static string Duration(long? ms) => ms switch
    {
        null => "-",
        < 60_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000.0:0.0} s"),
        < 3_600_000 => $"{ms / 60_000} min {ms % 60_000 / 1000} s",
        _ => $"{ms / 3_600_000} h {ms % 3_600_000 / 60_000} min",
    };

    /// <summary>Local time, to the second: what people compare with their clock.</summary>
    public static string Time(DateTimeOffset? at) => at?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>"1 from security, 2 from legal": the places of a gate's required groups still open (ADR 39).</summary>
    public static string MissingGroups(IEnumerable<KeyValuePair<string, int>>? missing) =>
        string.Join(", ", (missing ?? []).Where(m => m.Value > 0).Select(m => $"{m.Value} from {m.Key}"));

    public static string Clock(DateTimeOffset at) => at.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Money(decimal usd) => "$" + usd.ToString("0.00##", CultureInfo.InvariantCulture);

    /// <summary>A cost of which some part may be unknown (ADR 28): never a bare $0 for tokens nobody priced.</summary>
    public static string Money(decimal? knownUsd, bool unknown) =>
        knownUsd is not { } known ? "unknown cost" : !unknown ? Money(known) : known == 0 ? "unknown cost" : Money(known) + " + unknown";

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0:0.#} MiB"),
    };

    /// <summary>"awaiting_approval at design (gate)": the status with where and why it waits.</summary>
    public static string Where(RunDetail run) =>
        run.Status + (run.CurrentPhase is { } phase ? $" at {phase}" : "") + (run.WaitingFor is { } why ? $" ({why.Replace('_', ' ')})" : "");

    /// <summary>The commands that move a stopped run on, worded to be pasted.</summary>
    public static IReadOnlyList<string> NextSteps(RunDetail run) => (run.Status, run.WaitingFor) switch
    {
        ("awaiting_approval", "budget") => [$"baton run approve {run.RunId}   (lifts the budget for the rest of the run)", $"baton run cancel {run.RunId}"],
        ("awaiting_approval", _) when run.Gate is { Inputs.Count: > 0 } gate =>
            [$"baton run approve {run.RunId} {string.Join(" ", gate.Inputs.Select(i => i.Required ? $"--input {i.Name}=VALUE" : $"[--input {i.Name}=VALUE]"))} [--comment TEXT]",
                $"baton run reject {run.RunId} --feedback TEXT [--to PHASE]"],
        ("awaiting_approval", _) => [$"baton run approve {run.RunId} [--comment TEXT]", $"baton run reject {run.RunId} --feedback TEXT [--to PHASE]"],
        ("paused", "checks_failed") => [$"baton run next {run.RunId}   (follows the failure path)", $"baton run next {run.RunId} --skip-validation   (accepts the output as it is)"],
        ("paused", _) => [$"baton run next {run.RunId}"],
        ("failed", _) => [$"baton run retry {run.RunId}   (resumes at the failed phase)"],
        _ => [],
    };

    public static void WriteNextSteps(Terminal terminal, RunDetail run)
    {
        var steps = NextSteps(run);
        if (steps.Count == 0)
        {
            return;
        }
        terminal.Blank();
        terminal.Line(new Piece("Next:", Tone.Bold));
        foreach (var step in steps)
        {
            terminal.Line("  " + step);
        }
    }

    public static void WriteDetail(Terminal terminal, RunDetail run)
    {
        var rows = new List<(string Label, Piece Value)>
        {
            ("Run", $"{run.RunId}  ({run.Profile}, {run.Mode} mode)"),
            ("Project", run.ProjectName ?? "-"),
            ("Status", new Piece(Where(run), Terminal.ToneOf(run.Status))),
            ("Iteration", run.Iteration.ToString(CultureInfo.InvariantCulture)),
            ("Created", $"{Time(run.CreatedAt)}" + (run.CreatedBy is { } by ? $" by {by}" : "")),
            ("Updated", Time(run.UpdatedAt)),
        };
        if (run.CompletedAt is { } completed)
        {
            rows.Add(("Finished", Time(completed)));
        }
        if (run.ParentRunId is { } parent)
        {
            rows.Add(("Forked", $"from {parent} at {run.ForkedAtPhase ?? "?"}"));
        }
        rows.Add(("Usage", $"{Money(run.CostUsd, run.CostUnknown)}, {run.TokensUsed.ToString(CultureInfo.InvariantCulture)} tokens" + (run.BudgetUsd is { } budget ? $" (budget {Money(budget)})" : "")));
        if (run.Error is { } error)
        {
            rows.Add(("Error", new Piece(error, Tone.Bad)));
        }
        rows.Add(("Version", run.Version.ToString(CultureInfo.InvariantCulture)));
        foreach (var (label, value) in rows)
        {
            terminal.Line((label + ":").PadRight(11), value);
        }

        terminal.Blank();
        Table.Write(terminal,
            ["PHASE", "ITER", "STATUS", "STARTED", "DURATION", "NOTE"],
            run.Phases.Select(p => new[]
            {
                p.Name,
                p.StartedAt is null && p.Status == "pending" ? "-" : p.Iteration.ToString(CultureInfo.InvariantCulture),
                p.Status,
                p.StartedAt is { } s ? Clock(s) : "-",
                Duration(p.DurationMs),
                Note(p),
            }));

        terminal.Blank();
        terminal.Line(new Piece("Intake:", Tone.Bold));
        var lines = run.Intake.ReplaceLineEndings("\n").TrimEnd().Split('\n');
        foreach (var line in lines.Take(8))
        {
            terminal.Line("  " + line);
        }
        if (lines.Length > 8)
        {
            terminal.Line(new Piece($"  ... ({lines.Length - 8} more lines; --json shows all)", Tone.Dim));
        }
        WriteNextSteps(terminal, run);
    }

    private static string Note(PhaseInfo phase)
    {
        var notes = new List<string>();
        if (phase.Approval is { } gate)
        {
            notes.Add(gate.Status switch
            {
                "pending" when gate.Deadline is { } deadline => $"gate open until {Time(deadline)}",
                "pending" => "gate open",
                _ => $"gate {gate.Status}" + (gate.Actor is { } actor ? $" by {actor}" : "") + (gate.Comment is { Length: > 0 } c ? $": {OneLine(c)}" : ""),
            });
        }
        if (phase.Attempts > 1)
        {
            notes.Add($"{phase.Attempts} attempts");
        }
        if (phase.Feedback is { Length: > 0 } feedback)
        {
            notes.Add($"feedback: {OneLine(feedback)}");
        }
        if (phase.ValidationSkippedBy is { } skipper)
        {
            notes.Add($"checks skipped by {skipper}");
        }
        if (phase.Error is { Length: > 0 } error)
        {
            notes.Add(OneLine(error));
        }
        return string.Join("; ", notes);
    }

    /// <summary>Free text inside a table cell: one line, and short.</summary>
    public static string OneLine(string text, int max = 60)
    {
        var line = Commands.BatonCommand.OneLine(text);
        return line.Length <= max ? line : line[..(max - 3)] + "...";
    }
}
