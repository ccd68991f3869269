using System.Globalization;
using System.Text;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard.Components;
using Baton.Engine;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Microsoft.AspNetCore.Antiforgery;

namespace Baton.Dashboard;

/// <summary>What a run's page shows: the run, its timeline, and the data of the one tab that is open.</summary>
public sealed record RunPageModel(
    RunDetail Run,
    Profile Profile,
    long LastEvent,
    string Tab,
    DateTimeOffset Ended,
    TimelineLayout Timeline,
    ArtifactManifest? Artifacts,
    RunMetrics? Metrics,
    IReadOnlyList<LogLine>? Logs,
    long LogsAfter,
    RunEventsPage? Events);

/// <summary>A page of a run's events (not its log lines), newest first.</summary>
public sealed record RunEventsPage(IReadOnlyList<EventLog.EventRow> Events, long? Before, long? Older, string? Problem);

/// <summary>A run's page (header, phase timeline, tabs), its whole log as text, and the decisions posted from the page.</summary>
public static class RunDetailPages
{
    public static readonly IReadOnlyList<(string Id, string Label)> Tabs =
        [("phases", "Phases"), ("artifacts", "Artifacts"), ("metrics", "Metrics"), ("logs", "Logs"), ("events", "Events")];

    public const int LogLines = 200;
    public const int EventsPerPage = 50;
    private const int LogPage = 1000;
    private const int MaxTextLength = 64 * 1024;

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/runs/{id}", DetailAsync);
        pages.MapGet("/runs/{id}/logs.txt", LogsTextAsync);
        pages.MapPost("/runs/{id}/approve", ApproveAsync).RequireAuthorization(Roles.Approver);
        pages.MapPost("/runs/{id}/reject", RejectAsync).RequireAuthorization(Roles.Approver);
        pages.MapPost("/runs/{id}/next", NextAsync).RequireAuthorization(Roles.Operator);
        pages.MapPost("/runs/{id}/cancel", CancelAsync).RequireAuthorization(Roles.Operator);
        pages.MapPost("/runs/{id}/retry", RetryAsync).RequireAuthorization(Roles.Operator);
        pages.MapPost("/runs/{id}/fork", ForkAsync).RequireAuthorization(Roles.Operator);
    }

    /// <summary>An unknown tab is the default tab: an old or mistyped link still shows the run.</summary>
    public static string TabOf(string? tab) => Tabs.Any(t => t.Id == tab) ? tab! : Tabs[0].Id;

    private static async Task<IResult> DetailAsync(
        string id, string? tab, string? before, Database db, RunTransitions transitions, EventSequencer sequencer, TimeProvider time, CancellationToken ct)
    {
        // A finished run's page shows its last log lines and events: its live tail has ended.
        await sequencer.CatchUpAsync(ct);
        return await RenderAsync(id, TabOf(tab), before, db, transitions, time, null, null, 200);
    }

    private static async Task<IResult> RenderAsync(
        string id, string tab, string? before, Database db, RunTransitions transitions, TimeProvider time, FormState? form, string? invalidField, int status)
    {
        var model = await LoadAsync(id, tab, before, db, transitions, time);
        return model is null
            ? DashboardPages.NotFound("Run not found", $"There is no run '{id}'.")
            : DashboardPages.Render<RunDetailPage>(new { Model = model, Form = form, InvalidField = invalidField }, status);
    }

    private static Task<RunPageModel?> LoadAsync(string id, string tab, string? before, Database db, RunTransitions transitions, TimeProvider time) =>
        db.ReadAsync(async c =>
        {
            var row = await RunStore.LoadAsync(c, null, id);
            if (row is null)
            {
                return null;
            }
            var profile = await transitions.ProfileOfAsync(c, null, row);
            // Read before the log lines: a line the page does not show has a higher number, so the live tail catches it.
            var lastEvent = await EventLog.LastSeqOfRunAsync(c, null, id);
            var run = await RunTransitions.WithGateAsync(c, row, profile, await RunStore.DetailAsync(c, null, row, profile, time.GetUtcNow()));
            var gateEvents = await EventLog.GateEventsAsync(c, null, id);
            // A finished run's duration stops at its end; a live one's runs to now.
            var ended = run.CompletedAt ?? (row.RunStatus.IsTerminal() ? run.UpdatedAt : time.GetUtcNow());
            var timeline = PhaseTimeline.Layout(run.Phases, PhaseTimeline.GateWaits(gateEvents), ended);
            var logs = tab == "logs" ? await Runs.EventLog.LogTailAsync(c, null, id, LogLines, 0) : null;
            return new RunPageModel(
                run, profile, lastEvent, tab, ended, timeline,
                tab == "artifacts" ? await Artifacts.ArtifactStore.ManifestAsync(c, null, row.Id, profile) : null,
                tab == "metrics" ? await RunStore.MetricsAsync(c, null, row, profile) : null,
                logs,
                logs is { Count: > 0 } ? logs[^1].Seq : lastEvent,
                tab == "events" ? await EventsAsync(c, id, before) : null);
        });

    private static async Task<RunEventsPage> EventsAsync(System.Data.IDbConnection c, string id, string? before)
    {
        string? problem = null;
        long? from = null;
        if (!string.IsNullOrWhiteSpace(before))
        {
            if (long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b > 0)
            {
                from = b;
            }
            else
            {
                problem = $"'{before}' is not an event number; showing the newest events.";
            }
        }
        var rows = await EventLog.NewestFirstAsync(c, null, id, from, EventsPerPage + 1);
        long? older = rows.Count > EventsPerPage ? rows[EventsPerPage - 1].Seq : null;
        return new RunEventsPage(rows.Take(EventsPerPage).ToList(), from, older, problem);
    }

    /// <summary>The whole log as a text file, read a page at a time so a long log never sits in memory at once.</summary>
    private static async Task<IResult> LogsTextAsync(string id, HttpContext http, Database db, EventSequencer sequencer)
    {
        await sequencer.CatchUpAsync(http.RequestAborted);
        if (!await db.ReadAsync(c => RunStore.ExistsAsync(c, null, id)))
        {
            return DashboardPages.NotFound("Run not found", $"There is no run '{id}'.");
        }
        var ct = http.RequestAborted;
        // nosniff: a log line that looks like HTML stays text.
        DashboardPages.Secure(http);
        return Results.Stream(async body =>
        {
            await using var writer = new StreamWriter(body, new UTF8Encoding(false)) { NewLine = "\n" };
            var after = 0L;
            while (true)
            {
                var page = await db.ReadAsync(c => Runs.EventLog.LogPageAsync(c, null, id, LogPage, after), ct);
                foreach (var line in page)
                {
                    await writer.WriteLineAsync(LogText(line, "yyyy-MM-ddTHH:mm:ss.fffZ"));
                }
                await writer.FlushAsync(ct);
                if (page.Count < LogPage)
                {
                    return;
                }
                after = page[^1].Seq;
            }
        }, "text/plain; charset=utf-8", $"{id}.log.txt");
    }

    /// <summary>A log line as text: time, level, [phase#iteration], message.</summary>
    public static string LogText(LogLine line, string timeFormat = "HH:mm:ss") =>
        $"{line.Timestamp.UtcDateTime.ToString(timeFormat, CultureInfo.InvariantCulture)} {line.Level,-5} {(line.Phase is null ? "" : $"[{line.Phase}#{line.Iteration}] ")}{line.Message}";

    // ---- decisions ----

    private static Task<IResult> ApproveAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("approve", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var comment = QueryText.Blank(form["comment"]);
            return comment is { Length: > MaxTextLength } ? Bad("comment", "The comment is too long.")
                : new ApproveRun(actor, comment) { By = http.User.Decider(), Digest = QueryText.Blank(form["digest"]), Inputs = GateFormValues(form) };
        });

    private static Task<IResult> RejectAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("reject", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var feedback = QueryText.Blank(form["feedback"]);
            return feedback is null ? Bad("feedback", "Feedback is required to reject: tell the agent what to change.")
                : feedback.Length > MaxTextLength ? Bad("feedback", "The feedback is too long.")
                : new RejectRun(actor, feedback, QueryText.Blank(form["reject_to"])) { By = http.User.Decider(), Digest = QueryText.Blank(form["digest"]) };
        });

    private static Task<IResult> NextAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("next", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var skip = form["skip_validation"] == "true";
            return skip && !http.User.Has(Roles.Approver) ? Bad("skip_validation", "Skipping validation needs the approver role.") : new NextPhase(actor, skip);
        });

    private static Task<IResult> CancelAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time, RunningExecutions running) =>
        DecideAsync("cancel", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            var reason = QueryText.Blank(form["reason"]);
            return reason is { Length: > MaxTextLength } ? Bad("reason", "The reason is too long.") : new CancelRun(actor, reason);
        }, () => running.StopAsync(id, TimeSpan.FromSeconds(10)));

    private static Task<IResult> RetryAsync(string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time) =>
        DecideAsync("retry", id, http, antiforgery, db, transitions, time, (form, actor) =>
        {
            // Empty: where the run stopped. The decider checks the phase against the run's profile.
            var from = QueryText.Blank(form["from_phase"]);
            return from is { Length: > RunCreation.MaxPhaseNameLength } ? Bad("from_phase", "That is not a phase of this run.") : new RetryRun(actor, from);
        });

    /// <summary>
    /// A fork of the run (ADR 38), as the API makes it: to the new run's page, or back to this one with the problem and
    /// the input kept.
    /// </summary>
    private static async Task<IResult> ForkAsync(string id, HttpContext http, IAntiforgery antiforgery, [AsParameters] RunServices services)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var values = form.ToDictionary(f => f.Key, f => f.Value.ToString());
        var request = new ForkRunRequest(QueryText.Blank(form["at_phase"]), QueryText.Blank(form["intake"]));
        var outcome = await RunCreation.ForkAsync(services, id, request, idempotencyKey: null, http.User);
        (string? Field, string Message, int Status) problem;
        switch (outcome)
        {
            case CreateRunOutcome.Created(var fork):
                return Results.Redirect(DashboardPages.RunUrl(fork.Id));
            case CreateRunOutcome.NotFound:
                return DashboardPages.NotFound("Run not found", $"There is no run '{id}'.");
            case CreateRunOutcome.Invalid(var errors):
                problem = (errors.Keys.First(), string.Join(" ", errors.SelectMany(e => e.Value)), 400);
                break;
            case CreateRunOutcome.TooLarge(var detail):
                problem = ("intake", detail, 413);
                break;
            case CreateRunOutcome.QuotaReached quota:
                problem = (null, quota.Detail, 403);
                break;
            default:
                problem = (null, "The fork could not be created.", 400);
                break;
        }
        return await RenderAsync(id, "phases", null, services.Db, services.Transitions, services.Time, new FormState("fork", problem.Message, values), problem.Field, problem.Status);
    }

    /// <summary>
    /// Validates the form, applies the trigger on the version the person looked at (a stale page is a 409, like If-Match),
    /// and redirects back to the run. A problem re-renders the run's page on the Phases tab with the message and the input kept.
    /// </summary>
    private static async Task<IResult> DecideAsync(
        string action, string id, HttpContext http, IAntiforgery antiforgery, Database db, RunTransitions transitions, TimeProvider time,
        Func<IFormCollection, string, TriggerOrProblem> read, Func<Task>? afterApplied = null)
    {
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery);
        if (form is null)
        {
            return badForm!;
        }
        var values = form.ToDictionary(f => f.Key, f => f.Value.ToString());
        Task<IResult> Problem(string? field, string message, int status) =>
            RenderAsync(id, "phases", null, db, transitions, time, new FormState(action, message, values), field, status);
        long? version = long.TryParse(form["version"], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        if (version is null)
        {
            return await Problem(null, "The form did not say which version of the run it was made on; reload the page.", 400);
        }
        var input = read(form, http.User.Actor());
        if (input.Trigger is null)
        {
            return await Problem(input.Field, input.Error!, 400);
        }
        var outcome = await transitions.ApplyAsync(id, input.Trigger, version);
        switch (outcome)
        {
            case { Run: null }:
                return DashboardPages.NotFound("Run not found", $"There is no run '{id}'.");
            case { Decision: Refused { Forbidden: true } forbidden }:
                return await Problem(null, forbidden.Reason, 403);
            case { Decision: Refused { CurrentDigest: not null } stale }:
                return await Problem(null, $"What waits at the gate changed since you loaded the page ({stale.Reason}). Review it again and decide.", 409);
            case { Decision: Refused refused } when refused.Reason.Contains("already approved", StringComparison.Ordinal):
                return await Problem(null, refused.Reason, 409);
            case { Decision: Invalid { Errors: { } errors } }:
                return await Problem(errors.Keys.First(), string.Join(" ", errors.SelectMany(e => e.Value)), 400);
            case { Decision: Refused, Run: { } current }:
                return await Problem(null, $"The run changed: it is now {current.Status.Replace('_', ' ')}. Check the page and decide again.", 409);
            case { Decision: Invalid { Field: "reject_to" } invalid }:
                return await Problem("reject_to", $"The run cannot be sent back there: {invalid.Message}.", 400);
            case { Decision: Invalid invalid }:
                return await Problem(invalid.Field, invalid.Message, 400);
        }
        if (afterApplied is not null && outcome.Decision is Transition)
        {
            await afterApplied();
        }
        return Results.Redirect(DashboardPages.RunUrl(id));
    }

    /// <summary>
    /// The gate form's fields (`input.NAME`, with its type in `type.NAME`) as JSON values; the decider checks them
    /// against the gate. A field left empty is not sent, so a required one is named as missing.
    /// </summary>
    private static Dictionary<string, System.Text.Json.JsonElement>? GateFormValues(IFormCollection form)
    {
        var values = new Dictionary<string, System.Text.Json.JsonElement>(StringComparer.Ordinal);
        foreach (var (key, value) in form.Where(f => f.Key.StartsWith("input.", StringComparison.Ordinal) && f.Value.ToString().Length > 0))
        {
            var name = key["input.".Length..];
            var text = value.ToString();
            values[name] = form["type." + name].ToString() switch
            {
                "number" when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) => System.Text.Json.JsonSerializer.SerializeToElement(n),
                "boolean" when bool.TryParse(text, out var b) => System.Text.Json.JsonSerializer.SerializeToElement(b),
                _ => System.Text.Json.JsonSerializer.SerializeToElement(text),
            };
        }
        return values.Count == 0 ? null : values;
    }

    /// <summary>Either a trigger or what is wrong with the input (and which field).</summary>
    private readonly record struct TriggerOrProblem(RunTrigger? Trigger, string? Field, string? Error)
    {
        public static implicit operator TriggerOrProblem(RunTrigger trigger) => new(trigger, null, null);
    }

    private static TriggerOrProblem Bad(string field, string error) => new(null, field, error);

}
