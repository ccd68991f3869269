using System.Text.Json;
using Baton.Client;

namespace Baton.Cli;

/// <summary>
/// Follows a run over its event stream, from its first event, until it stops: completes, needs a human (a gate, a
/// budget stop, a manual pause) or ends otherwise. Shared by `run watch` and `run create --watch`; the exit code says which
/// (<see cref="ExitCodes.ForRun"/>), and people are told how to go on.
/// </summary>
public static class RunWatcher
{
    /// <summary>
    /// Outages in a row (stream cut, server unreachable) before the watch gives up: about 30 s of waits, on top of
    /// the client's own retries, which is longer than a server takes to restart.
    /// </summary>
    private const int MaxOutages = 8;

    /// <summary>Events after which the run may have stopped; only then is it worth asking the server.</summary>
    private static readonly HashSet<string> MayStop =
        ["gate.opened", "run.paused", "run.budget_stopped", "run.completed", "run.failed", "run.cancelled", "run.expired"];

    /// <summary>
    /// Watches <paramref name="run"/> from its first event (a run that already stopped shows its story, then how it
    /// stands); with announce, first says which run (not after `run create`, which just said it).
    /// </summary>
    public static async Task<int> WatchAsync(BatonClient client, Terminal terminal, RunDetail run, bool json, CancellationToken ct, bool announce = true)
    {
        if (!json && announce)
        {
            terminal.Line($"Watching {run.RunId} ({run.Profile}, {run.Mode} mode): ", new Piece(RunView.Where(run), Terminal.ToneOf(run.Status)));
        }
        var started = new Dictionary<string, DateTimeOffset>();
        // JSON lines are for programs: no spinner between them, even on a terminal.
        return json
            ? await FollowAsync(_ => { })
            : await terminal.SpinAsync($"{run.RunId}: {RunView.Where(run)}", FollowAsync);

        async Task<int> FollowAsync(Action<string> status)
        {
            long? last = null;
            for (var outages = 0; ; outages++)
            {
                try
                {
                    await foreach (var e in client.StreamRunEventsAsync(run.RunId, last, ct))
                    {
                        last = e.Seq;
                        outages = 0;
                        if (json)
                        {
                            RunView.WriteJson(terminal.Out, e);
                        }
                        else if (Describe(e, started) is { } line)
                        {
                            terminal.Line([new Piece(RunView.Clock(e.CreatedAt) + "  ", Tone.Dim), .. line]);
                        }
                        if (e.Type == "phase.started")
                        {
                            status($"{run.RunId}: {e.Phase} running (iteration {e.Iteration})");
                        }
                        if (!MayStop.Contains(e.Type))
                        {
                            continue;
                        }
                        run = await client.GetRunAsync(run.RunId, ct);
                        if (ExitCodes.ForRun(run.Status) is { } code && StoppedBy(e, run))
                        {
                            if (!json)
                            {
                                Stopped(terminal, run);
                            }
                            return code;
                        }
                    }
                    // The server ends a run's stream once the run has finished, but also when it shuts down, and when
                    // the key was revoked (the next request says so).
                    run = await client.GetRunAsync(run.RunId, ct);
                    if (run.Status is "completed" or "failed" or "cancelled" or "expired")
                    {
                        if (!json)
                        {
                            Stopped(terminal, run);
                        }
                        return ExitCodes.ForRun(run.Status)!.Value;
                    }
                }
                catch (Exception e) when (outages < MaxOutages && e is IOException or HttpRequestException { StatusCode: null })
                {
                    // The server is away (a restart, a deploy): runs survive that, so the watch does too.
                }
                if (outages >= MaxOutages)
                {
                    throw new CliException($"the event stream of {run.RunId} keeps ending while the run is {run.Status}; watch it again");
                }
                status($"{run.RunId}: waiting for the server");
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(outages + 1, 5)), ct);
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> is what left the run as it is now. A run waiting at a gate may have waited at
    /// gates before (an earlier iteration's, replayed from its history): only the stop of its current phase and
    /// iteration ends the watch. A finished run ends it with the event that finished it, after all its history: a run
    /// that failed, was retried and failed again has an earlier iteration's run.failed in its history too.
    /// </summary>
    private static bool StoppedBy(RunEventInfo e, RunDetail run) => run.Status switch
    {
        "completed" or "failed" or "cancelled" or "expired" =>
            e.Type is "run.completed" or "run.failed" or "run.cancelled" or "run.expired" && e.Iteration == run.Iteration,
        _ => e.Phase == run.CurrentPhase && e.Iteration == run.Iteration,
    };

    private static void Stopped(Terminal terminal, RunDetail run)
    {
        var tone = Terminal.ToneOf(run.Status);
        var sentence = run.Status switch
        {
            "completed" => $"Run {run.RunId} completed.",
            "awaiting_approval" when run.WaitingFor == "budget" => $"Run {run.RunId} stopped for its budget before {run.CurrentPhase}: it needs approval to spend more.",
            "awaiting_approval" when run.Gate is { Approvals.Count: > 0 } gate =>
                $"Run {run.RunId} awaits approval at {run.CurrentPhase}: {gate.Approvals.Count} of {gate.ApprovalsRequired} approvals"
                + (RunView.MissingGroups(gate.MissingGroups) is { Length: > 0 } needs ? $", still needs {needs}." : "."),
            "awaiting_approval" => $"Run {run.RunId} awaits approval at {run.CurrentPhase}.",
            "paused" when run.WaitingFor == "checks_failed" => $"Run {run.RunId} is paused at {run.CurrentPhase}: its checks failed.",
            "paused" => $"Run {run.RunId} is paused after {run.CurrentPhase} (manual mode).",
            _ => $"Run {run.RunId} {run.Status}" + (run.Error is { } error ? $": {error}" : "."),
        };
        terminal.Line(new Piece(sentence, tone));
        RunView.WriteNextSteps(terminal, run);
    }

    /// <summary>One line per event worth a person's attention; null for the rest.</summary>
    private static Piece[]? Describe(RunEventInfo e, Dictionary<string, DateTimeOffset> started)
    {
        var phase = e.Phase ?? "";
        var by = e.Actor is { } actor ? $" by {actor}" : "";
        switch (e.Type)
        {
            case "run.created":
            case "run.started":
            case "run.updated":
                return null;
            case "phase.started":
                started[phase] = e.CreatedAt;
                var attempt = Number(e.Data, "attempt") is > 1 and var n ? $", attempt {n}" : "";
                return [Phase(phase), new Piece("started", Tone.Info), $" (iteration {e.Iteration}{attempt})"];
            case "phase.completed":
                var took = started.Remove(phase, out var at) ? $" in {RunView.Duration((long)(e.CreatedAt - at).TotalMilliseconds)}" : "";
                return [Phase(phase), new Piece("completed", Tone.Good), took];
            case "artifact.created":
                return [Phase(phase), new Piece($"+ {Text(e.Data, "name")}", Tone.Dim)];
            case "log":
                // What the agent prints, live; warnings and errors stand out.
                var level = Text(e.Data, "level");
                return [Phase(phase), new Piece("│ " + Text(e.Data, "message"), level switch { "error" => Tone.Bad, "warn" => Tone.Warn, _ => Tone.Dim })];
            case "phase.failed":
                return [Phase(phase), new Piece("failed", Tone.Bad), $": {Text(e.Data, "error")}"];
            case "phase.retry_scheduled":
                return [Phase(phase), new Piece("will be tried again", Tone.Warn), $": {Text(e.Data, "error")}"];
            case "phase.checks_failed":
                return [Phase(phase), new Piece("checks failed", Tone.Bad)];
            case "execution.lost":
                return [Phase(phase), new Piece("worker lost; running the phase again", Tone.Warn)];
            case "gate.opened":
                // The phase's own time ends here; what follows until its approval is a person's.
                var worked = started.Remove(phase, out var from) ? $" (worked {RunView.Duration((long)(e.CreatedAt - from).TotalMilliseconds)})" : "";
                return [Phase(phase), new Piece("awaits approval", Tone.Warn), worked];
            case "gate.approval_recorded":
                return [Phase(phase), new Piece($"approval {Text(e.Data, "approvals")} of {Text(e.Data, "approvals_required")}", Tone.Info), by, StillNeeded(e.Data), Comment(Text(e.Data, "comment"))];
            case "gate.reminded":
                return [Phase(phase), new Piece("still awaits approval", Tone.Warn), $" (reminder after {Text(e.Data, "remind_after")})"];
            case "gate.approved":
                return [Phase(phase), new Piece("approved", Tone.Good), by, Comment(Text(e.Data, "comment"))];
            case "gate.rejected":
                return [Phase(phase), new Piece("rejected", Tone.Bad), by, $", back to {Text(e.Data, "reject_to")}", Comment(Text(e.Data, "feedback"))];
            case "gate.expired":
                return [Phase(phase), new Piece("gate expired", Tone.Bad), $" after {Text(e.Data, "timeout")}"];
            case "budget.approved":
                return [Phase(phase), new Piece("budget approved", Tone.Good), by];
            case "run.budget_stopped":
                return [Phase(phase), new Piece("budget stop", Tone.Warn), $": spent {Text(e.Data, "cost_usd")} of {Text(e.Data, "budget_usd")} USD"];
            case "run.iteration_started":
                return [new Piece($"iteration {Text(e.Data, "iteration")}", Tone.Bold), $" starts at {phase}"];
            case "run.paused":
                return [Phase(phase), new Piece("paused", Tone.Warn), $" ({Text(e.Data, "reason").Replace('_', ' ')})"];
            case "run.resumed":
                return [Phase(phase), new Piece("resumed", Tone.Info), by];
            case "validation.skipped":
                return [Phase(phase), new Piece("checks skipped", Tone.Warn), by];
            case "run.retried":
                return [new Piece("retried", Tone.Info), by, $", iteration {Text(e.Data, "iteration")} at {phase}"];
            case "run.completed":
            case "run.failed":
            case "run.cancelled":
            case "run.expired":
                // The closing sentence says it, with what to do next.
                return null;
            default:
                return [Phase(phase), e.Type];
        }
    }

    private static Piece Phase(string phase) => new(phase.Length == 0 ? "" : phase.PadRight(16) + " ", Tone.Bold);

    private static string Comment(string text) => text.Length == 0 ? "" : $": \"{RunView.OneLine(text, 80)}\"";

    /// <summary>", still needs 1 from security": a gate's required groups not yet filled, from the event (ADR 39).</summary>
    private static string StillNeeded(JsonElement? data) =>
        data is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("missing_groups", out var missing) && missing.ValueKind == JsonValueKind.Object
            && RunView.MissingGroups(missing.EnumerateObject().Select(g => KeyValuePair.Create(g.Name, g.Value.TryGetInt32(out var n) ? n : 0))) is { Length: > 0 } needs
            ? $", still needs {needs}"
            : "";

    private static string Text(JsonElement? data, string name) =>
        data is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString() ?? "",
                JsonValueKind.Null => "",
                _ => value.ToString(),
            }
            : "";

    private static long? Number(JsonElement? data, string name) =>
        data is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n : null;
}
