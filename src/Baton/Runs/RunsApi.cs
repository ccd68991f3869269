using System.Globalization;
using System.Security.Claims;
using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Baton.Runs;

public static class RunsApi
{
    private const int MaxNameLength = RunCreation.MaxNameLength;
    private const int MaxTextLength = 64 * 1024;
    private const int MaxDigestLength = 128;
    private const string DigestTooLong = "digest is not a gate's digest (sha256:<64 hex digits>)";

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs").WithTags("Runs").RequireAuthorization(Roles.Viewer);
        runs.MapPost("/", CreateAsync).RequireAuthorization(Roles.Operator);
        runs.MapGet("/", ListAsync);
        runs.MapGet("/{id}", GetAsync);
        runs.MapPatch("/{id}", UpdateAsync).RequireAuthorization(Roles.Operator);
        runs.MapPost("/{id}/next", NextAsync).RequireAuthorization(Roles.Operator);
        runs.MapPost("/{id}/approve", ApproveAsync).RequireAuthorization(Roles.Approver);
        runs.MapPost("/{id}/reject", RejectAsync).RequireAuthorization(Roles.Approver);
        runs.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization(Roles.Operator);
        runs.MapPost("/{id}/retry", RetryAsync).RequireAuthorization(Roles.Operator);
        runs.MapPost("/{id}/fork", ForkAsync).RequireAuthorization(Roles.Operator);
        runs.MapGet("/{id}/artifacts", ArtifactsAsync);
        runs.MapGet("/{id}/artifacts/{name}", ArtifactAsync);
        runs.MapGet("/{id}/metrics", MetricsAsync);
        runs.MapGet("/{id}/logs", LogsAsync);
        runs.MapGet("/{id}/events", (string id, HttpContext http, Database db, EventFeed feed, TimeProvider time) =>
            EventStream.ForRunAsync(id, http, db, feed, time));
        app.MapGet("/api/events", (HttpContext http, Database db, EventFeed feed, TimeProvider time) =>
            EventStream.ForAllAsync(http, db, feed, time)).WithTags("Runs").RequireAuthorization(Roles.Viewer);
        return app;
    }

    public static async Task<Results<Created<RunDetail>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateRunRequest? body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, ClaimsPrincipal user, [AsParameters] RunServices services) =>
        await CreatedAsync(await RunCreation.CreateAsync(services, body, idempotencyKey, user), services);

    /// <summary>A new run from one of this run's phases on (ADR 38): 201 with the fork, which names its parent.</summary>
    public static async Task<Results<Created<RunDetail>, ValidationProblem, ProblemHttpResult>> ForkAsync(
        string id, ForkRunRequest? body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, ClaimsPrincipal user, [AsParameters] RunServices services) =>
        await CreatedAsync(await RunCreation.ForkAsync(services, id, body, idempotencyKey, user), services);

    private static async Task<Results<Created<RunDetail>, ValidationProblem, ProblemHttpResult>> CreatedAsync(CreateRunOutcome outcome, RunServices services) =>
        outcome switch
        {
            CreateRunOutcome.Created(var run) => TypedResults.Created($"/api/runs/{run.Id}", await DetailAsync(services.Db, services.Transitions, run)),
            CreateRunOutcome.Invalid(var errors) => Problems.Invalid(errors),
            CreateRunOutcome.TooLarge(var detail) => Problems.TooLarge(detail),
            CreateRunOutcome.Forbidden(var detail) => TypedResults.Problem(statusCode: 403, title: "Forbidden", detail: detail),
            // 403, not 429: waiting does not help a client that retries (stored bytes never go down by themselves).
            CreateRunOutcome.QuotaReached(var quota, var limit, var used, var detail) => TypedResults.Problem(statusCode: 403, title: "Quota reached",
                detail: detail, type: "urn:baton:problem:quota", extensions: new Dictionary<string, object?> { ["quota"] = quota, ["limit"] = limit, ["used"] = used }),
            CreateRunOutcome.KeyReused(var detail) => Problems.Conflict(detail),
            CreateRunOutcome.NotFound(var runId) => Problems.NotFound("run", runId),
            var other => throw new InvalidOperationException($"unexpected outcome {other.GetType().Name}"),
        };

    public static async Task<Results<JsonBytesAnswer<RunList>, ValidationProblem>> ListAsync(
        string? status, string? profile, string? project, string? limit, string? offset, RunListAnswers answers)
    {
        var errors = new Dictionary<string, string[]>();
        if (status is not null && !StateNames.TryParse<RunStatus>(status, out _))
        {
            errors["status"] = [$"unknown status '{status}'; one of: {string.Join(", ", StateNames.All<RunStatus>())}"];
        }
        var take = ParseInt(limit, "limit", 50, 1, 200, errors);
        var skip = ParseInt(offset, "offset", 0, 0, int.MaxValue, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        return new JsonBytesAnswer<RunList>(await answers.GetAsync(new RunStore.ListQuery(status, profile, project, take, skip)));
    }

    public static async Task<Results<JsonAnswer<RunDetail>, ProblemHttpResult>> GetAsync(string id, HttpContext http, Database db, RunTransitions transitions)
    {
        // The row and its detail on one connection: the most frequent read of all (dashboards and CLIs poll it).
        var (run, detail) = await db.ReadAsync(async c => await RunStore.LoadAsync(c, null, id) is { } row
            ? (row, await transitions.DetailAsync(c, row))
            : ((RunRow?)null, (RunDetail?)null));
        if (run is null)
        {
            return Problems.NotFound("run", id);
        }
        http.Response.Headers.ETag = ETag(run);
        return new JsonAnswer<RunDetail>(detail!, RunAnswersJson.Default.RunDetail);
    }

    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string id, UpdateRunRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions, TimeProvider time)
    {
        if (body is null || (body.ProjectName is null && body.CurrentStep is null && body.Status is null))
        {
            return Problems.Invalid("body", "give at least one of project_name, current_step, status");
        }
        var errors = new Dictionary<string, string[]>();
        if (body.ProjectName is { Length: > MaxNameLength })
        {
            errors["project_name"] = [$"project_name is longer than {MaxNameLength} characters"];
        }
        PhaseStatus? stepStatus = null;
        if (body.Status is not null)
        {
            if (StateNames.TryParse<PhaseStatus>(body.Status, out var s) && s is PhaseStatus.Running or PhaseStatus.Completed or PhaseStatus.Failed)
            {
                stepStatus = s;
            }
            else
            {
                errors["status"] = ["status must be running, completed or failed (the reported state of current_step)"];
            }
        }
        if (body.CurrentStep is { Length: 0 or > 64 })
        {
            errors["current_step"] = ["current_step must be a phase name"];
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }

        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            // Jobs before the run, the engine's order (ADR 25): the load below locks the run.
            await JobQueue.LockOfRunAsync(c, tx, id);
            var run = await RunStore.LoadAsync(c, tx, id);
            if (run is null)
            {
                return new TransitionOutcome(new Ignored("no such run"), null);
            }
            var result = new TransitionOutcome(new Ignored("nothing reported"), run);
            // The transition's events and the update's go last, together, as in every write (ADR 23).
            var events = new EventBatch();
            if (body.CurrentStep is not null || stepStatus is not null)
            {
                var step = body.CurrentStep ?? run.CurrentPhase ?? "";
                result = await transitions.ApplyInTransactionAsync(c, tx, id, new ExternalReport(user.Actor(), step, stepStatus ?? PhaseStatus.Running), events: events);
                if (result.Decision is Refused or Invalid)
                {
                    return result;
                }
            }
            if (body.ProjectName is not null)
            {
                var project = body.ProjectName.Length == 0 ? null : body.ProjectName;
                var now = time.GetUtcNow();
                await RunStore.SetProjectAsync(c, tx, id, project, now);
                events.Add(id, new RunEvent("run.updated", null, run.Iteration, user.Actor(),
                    new Dictionary<string, object?> { ["project_name"] = project }), now);
                result = result with { Run = await RunStore.LoadAsync(c, tx, id) };
            }
            await events.WriteAsync(c, tx);
            return result;
        });
        transitions.AfterCommit(outcome.Decision);
        return await ToResultAsync(outcome, id, http, db, transitions);
    }

    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> NextAsync(
        string id, NextRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions)
    {
        var skip = body?.SkipValidation ?? false;
        if (skip && !user.Has(Roles.Approver))
        {
            return TypedResults.Problem(statusCode: 403, title: "Forbidden", detail: "skip_validation needs the approver role");
        }
        if (body?.Digest is { Length: > MaxDigestLength })
        {
            return Problems.Invalid("digest", DigestTooLong);
        }
        return await ApplyAsync(http, id, new NextPhase(user.Actor(), skip) { Digest = body?.Digest }, db, transitions);
    }

    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> ApproveAsync(
        string id, ApproveRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions)
    {
        if (body?.Comment is { Length: > MaxTextLength })
        {
            return Problems.Invalid("comment", $"comment is longer than {MaxTextLength} characters");
        }
        if (body?.Digest is { Length: > MaxDigestLength })
        {
            return Problems.Invalid("digest", DigestTooLong);
        }
        // The form's values are checked against the gate's fields by the decider, which knows the profile.
        return await ApplyAsync(http, id, new ApproveRun(user.Actor(), body?.Comment) { By = user.Decider(), Digest = body?.Digest, Inputs = body?.Inputs }, db, transitions);
    }

    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> RejectAsync(
        string id, RejectRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions)
    {
        if (string.IsNullOrWhiteSpace(body?.Feedback))
        {
            return Problems.Invalid("feedback", "feedback is required: tell the agent what to change");
        }
        if (body.Feedback.Length > MaxTextLength)
        {
            return Problems.Invalid("feedback", $"feedback is longer than {MaxTextLength} characters");
        }
        if (body.Digest is { Length: > MaxDigestLength })
        {
            return Problems.Invalid("digest", DigestTooLong);
        }
        return await ApplyAsync(http, id, new RejectRun(user.Actor(), body.Feedback, string.IsNullOrWhiteSpace(body.RejectTo) ? null : body.RejectTo)
        {
            By = user.Decider(),
            Digest = body.Digest,
        }, db, transitions);
    }

    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> CancelAsync(
        string id, CancelRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions, RunningExecutions running)
    {
        if (body?.Reason is { Length: > MaxTextLength })
        {
            return Problems.Invalid("reason", $"reason is longer than {MaxTextLength} characters");
        }
        // Record the cancellation first (it may be refused: a stale If-Match, a finished run), then stop the work and
        // answer only once it has stopped. The cancel removed the job, so the lease fence keeps a finishing
        // execution from writing anything.
        var result = await ApplyAsync(http, id, new CancelRun(user.Actor(), body?.Reason), db, transitions);
        if (result.Result is Ok<RunDetail>)
        {
            await running.StopAsync(id, TimeSpan.FromSeconds(10));
        }
        return result;
    }

    /// <summary>A failed or cancelled run goes on as a new iteration: where it stopped, or at an earlier `from_phase` (ADR 38).</summary>
    public static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> RetryAsync(
        string id, RetryRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions)
    {
        if (body?.FromPhase is { } from && (string.IsNullOrWhiteSpace(from) || from.Length > RunCreation.MaxPhaseNameLength))
        {
            return Problems.Invalid("from_phase", $"from_phase must be a phase name (1 to {RunCreation.MaxPhaseNameLength} characters), or left out to retry where the run stopped");
        }
        // The phase is checked against the run's profile by the decider, which knows it.
        return await ApplyAsync(http, id, new RetryRun(user.Actor(), body?.FromPhase), db, transitions);
    }

    public static async Task<Results<Ok<ArtifactManifest>, ProblemHttpResult>> ArtifactsAsync(string id, Database db, RunTransitions transitions)
    {
        var manifest = await db.ReadAsync(async c =>
        {
            var run = await RunStore.LoadAsync(c, null, id);
            return run is null ? null : await Artifacts.ArtifactStore.ManifestAsync(c, null, run.Id, await transitions.ProfileOfAsync(c, null, run));
        });
        return manifest is null ? Problems.NotFound("run", id) : TypedResults.Ok(manifest);
    }

    public static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> ArtifactAsync(
        string id, string name, string? iteration, HttpContext http, Database db)
    {
        var errors = new Dictionary<string, string[]>();
        var wanted = iteration is null ? (int?)null : ParseInt(iteration, "iteration", 1, 1, 100_000, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var found = await db.ReadAsync(async c =>
        {
            if (!await RunStore.ExistsAsync(c, null, id))
            {
                return null;
            }
            var row = await Artifacts.ArtifactStore.FindAsync(c, null, id, name, wanted);
            var content = row is null ? null : await Artifacts.ArtifactStore.ContentAsync(c, null, row);
            return new FoundArtifact(row, content);
        });
        if (found is null)
        {
            return Problems.NotFound("run", id);
        }
        if (found.Row is not { } artifact)
        {
            return Problems.NotFound("artifact", wanted is null ? name : $"{name}@{wanted}");
        }
        http.Response.Headers["X-Baton-Iteration"] = artifact.Iteration.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.ETag = $"\"{artifact.Sha256}\"";
        return TypedResults.File(found.Content!, artifact.MediaType);
    }

    public static async Task<Results<Ok<RunMetrics>, ProblemHttpResult>> MetricsAsync(string id, Database db, RunTransitions transitions)
    {
        var metrics = await db.ReadAsync(async c =>
        {
            var run = await RunStore.LoadAsync(c, null, id);
            return run is null ? null : await RunStore.MetricsAsync(c, null, run, await transitions.ProfileOfAsync(c, null, run));
        });
        return metrics is null ? Problems.NotFound("run", id) : TypedResults.Ok(metrics);
    }

    /// <summary>The last `lines` log lines; with `after` (an event id), only lines after it: a follower asks for what is new.</summary>
    public static async Task<Results<Ok<Client.RunLogs>, ValidationProblem, ProblemHttpResult>> LogsAsync(
        string id, string? lines, string? after, Database db, EventSequencer sequencer, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var count = ParseInt(lines, "lines", 50, 1, 10_000, errors);
        var since = ParseInt(after, "after", 0, 0, int.MaxValue, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        await sequencer.CatchUpAsync(ct);
        var logs = await db.ReadAsync(async c =>
            !await RunStore.ExistsAsync(c, null, id) ? null : new Client.RunLogs(id, await EventLog.LogTailAsync(c, null, id, count, since)), ct);
        return logs is null ? Problems.NotFound("run", id) : TypedResults.Ok(logs);
    }

    /// <summary>
    /// Applies a human's decision. With `If-Match: "v&lt;version&gt;"` (the ETag of the run they looked at) it applies
    /// only to that version, so two people deciding at once cannot both win: the second gets 409.
    /// </summary>
    private static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> ApplyAsync(
        HttpContext http, string id, RunTrigger trigger, Database db, RunTransitions transitions)
    {
        string? ifMatch = http.Request.Headers.IfMatch;
        long? expected = null;
        if (ifMatch is not null)
        {
            var text = ifMatch.Trim().Trim('"').TrimStart('v');
            if (ifMatch.Trim() == "*")
            {
                text = null;
            }
            else if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                return Problems.Invalid("If-Match", "If-Match must be the run's ETag, such as \"v7\"");
            }
            else
            {
                expected = version;
            }
        }
        return await ToResultAsync(await transitions.ApplyAsync(id, trigger, expected), id, http, db, transitions);
    }

    private static async Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> ToResultAsync(
        TransitionOutcome outcome, string id, HttpContext http, Database db, RunTransitions transitions)
    {
        switch (outcome)
        {
            case { Run: null }:
                return Problems.NotFound("run", id);
            case { Decision: Refused { Forbidden: true } forbidden }:
                return TypedResults.Problem(statusCode: 403, title: "Forbidden", detail: forbidden.Reason);
            case { Decision: Refused { CurrentDigest: { } digest } stale, Run: { } current }:
                return TypedResults.Problem(statusCode: 409, title: "Conflict", detail: stale.Reason, type: "urn:baton:problem:stale-digest",
                    extensions: new Dictionary<string, object?> { ["current_status"] = current.Status, ["digest"] = digest });
            case { Decision: Refused refused, Run: { } current }:
                return Problems.Conflict(refused.Reason, current.Status);
            case { Decision: Invalid { Errors: { } errors } }:
                return Problems.Invalid(errors.ToDictionary());
            case { Decision: Invalid invalid }:
                return Problems.Invalid(invalid.Field, invalid.Message);
            default:
                var run = outcome.Run!;
                http.Response.Headers.ETag = ETag(run);
                return TypedResults.Ok(await DetailAsync(db, transitions, run));
        }
    }

    public static string ETag(RunRow run) => $"\"v{run.Version}\"";

    private static Task<RunDetail> DetailAsync(Database db, RunTransitions transitions, RunRow run) =>
        db.ReadAsync(c => transitions.DetailAsync(c, run));

    private sealed record FoundArtifact(Artifacts.ArtifactRow? Row, byte[]? Content);

    private static int ParseInt(string? text, string field, int fallback, int min, int max, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return fallback;
        }
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }
        errors[field] = [$"{field} must be a whole number from {min} to {max}"];
        return fallback;
    }
}
