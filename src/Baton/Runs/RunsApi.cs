using System.Data;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Engine;
using Baton.Profiles;
using Baton.Storage;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Data.Sqlite;

namespace Baton.Runs;

public static class RunsApi
{
    public const int MaxIntakeBytes = 1024 * 1024;
    private const int MaxNameLength = 200;
    private const int MaxTextLength = 64 * 1024;

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
        CreateRunRequest? body,
        [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        ClaimsPrincipal user,
        Database db,
        ProfileCatalog catalog,
        RunTransitions transitions,
        UsageLimits limits,
        TimeProvider time)
    {
        if (body is null)
        {
            return Problems.Invalid("body", "a JSON body is required: {\"profile\": ..., \"intake\": ...}");
        }
        var intakeBytes = body.Intake is null ? 0 : Encoding.UTF8.GetByteCount(body.Intake);
        if (intakeBytes > MaxIntakeBytes)
        {
            return Problems.TooLarge($"intake is larger than {MaxIntakeBytes / 1024} KiB");
        }
        var errors = new Dictionary<string, string[]>();
        var profile = body.Profile is null ? null : catalog.Current().Find(body.Profile);
        if (string.IsNullOrWhiteSpace(body.Profile))
        {
            errors["profile"] = ["profile is required"];
        }
        else if (profile is null)
        {
            errors["profile"] = [$"unknown profile '{body.Profile}'; see GET /api/profiles"];
        }
        if (string.IsNullOrWhiteSpace(body.Intake))
        {
            errors["intake"] = ["intake is required: the PRD, mission or ticket the run works from"];
        }
        if (body.ProjectName is { Length: > MaxNameLength })
        {
            errors["project_name"] = [$"project_name is longer than {MaxNameLength} characters"];
        }
        RunMode? mode = null;
        if (body.Mode is not null)
        {
            if (StateNames.TryParse<RunMode>(body.Mode, out var m))
            {
                mode = m;
            }
            else
            {
                errors["mode"] = ["mode must be auto or manual"];
            }
        }
        if (body.BudgetUsd is < 0 or > 1_000_000)
        {
            errors["budget_usd"] = ["budget_usd must be from 0 to 1000000"];
        }
        if (profile is not null)
        {
            var named = profile.Profile.Phases.Select(p => p.Worker).Where(w => w is not (PhaseDefinition.TemplateWorker or PhaseDefinition.ExternalWorker)).Distinct().ToList();
            var existing = named.Count == 0 ? [] : (await db.ReadAsync(c => c.QueryAsync<string>("SELECT name FROM workers WHERE name IN @named", new { named }))).ToList();
            var missing = named.Except(existing).ToList();
            if (missing.Count > 0)
            {
                errors["profile"] = [$"profile '{profile.Profile.Name}' uses worker(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}, which do not exist; create them with POST /api/workers"];
            }
        }
        if (body.RepositoryId is not null && await db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM repositories WHERE id = @RepositoryId", body)) == 0)
        {
            errors["repository_id"] = [$"no repository '{body.RepositoryId}'; see GET /api/repositories"];
        }
        if (idempotencyKey is { Length: 0 or > 255 })
        {
            errors["Idempotency-Key"] = ["the Idempotency-Key header must be 1 to 255 characters"];
        }
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        // The profile's budget is an admin's choice (admins write profiles); spending past it is an approver's.
        if (profile!.Profile.BudgetUsd is { } profileBudget && body.BudgetUsd > profileBudget && !user.Has(Roles.Approver))
        {
            return TypedResults.Problem(statusCode: 403, title: "Forbidden",
                detail: $"budget_usd {body.BudgetUsd} is above profile '{profile.Profile.Name}''s budget of {profileBudget} USD; a larger budget needs the approver role");
        }

        var keyId = user.FindFirstValue(ClaimTypes.NameIdentifier);
        var requestHash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, BatonJson.Options)));
        var loaded = profile!;
        var (run, replay, decision, overQuota) = await db.WriteAsync<(RunRow, bool, RunDecision?, ProblemHttpResult?)>(async (c, tx) =>
        {
            if (idempotencyKey is not null)
            {
                var existing = await c.QuerySingleOrDefaultAsync<RunRow>($"SELECT {RunRow.Columns} FROM runs WHERE idempotency_key = @idempotencyKey", new { idempotencyKey }, tx);
                if (existing is not null)
                {
                    return (existing, true, (RunDecision?)null, (ProblemHttpResult?)null);
                }
            }
            // Checked and counted in the transaction that creates the run, so two requests at once cannot both fit.
            if (keyId is not null && await QuotaProblemAsync(c, tx, keyId, intakeBytes, limits) is { } quota)
            {
                return (null!, false, null, quota);
            }
            var now = time.GetUtcNow();
            var id = Ids.New("run", time);
            await c.ExecuteAsync(
                "INSERT INTO profile_versions(hash, name, source, created_at) VALUES (@Hash, @name, @Source, @now) ON CONFLICT(hash) DO NOTHING",
                new { loaded.Hash, name = loaded.Profile.Name, loaded.Source, now = now.ToMs() }, tx);
            await c.ExecuteAsync(
                """
                INSERT INTO runs(id, profile, profile_hash, project_name, status, mode, current_phase, iteration, budget_usd,
                                 idempotency_key, request_hash, created_by, created_by_key, created_at, updated_at, repository_id)
                VALUES (@id, @profile, @hash, @project, 'pending', @mode, NULL, 1, @budget, @idempotencyKey, @requestHash, @actor, @keyId, @now, @now, @repository)
                """,
                new
                {
                    id,
                    profile = loaded.Profile.Name,
                    hash = loaded.Hash,
                    project = string.IsNullOrWhiteSpace(body.ProjectName) ? null : body.ProjectName,
                    mode = (mode ?? loaded.Profile.Mode).Wire(),
                    budget = body.BudgetUsd ?? loaded.Profile.BudgetUsd,
                    idempotencyKey,
                    requestHash,
                    actor = user.Actor(),
                    keyId,
                    now = now.ToMs(),
                    repository = body.RepositoryId,
                }, tx);
            await RunIntakes.SaveAsync(c, tx, id, body.Intake!);
            if (keyId is not null)
            {
                await c.ExecuteAsync(
                    "INSERT INTO key_usage(key_id, stored_bytes) VALUES (@keyId, @intakeBytes) ON CONFLICT(key_id) DO UPDATE SET stored_bytes = stored_bytes + @intakeBytes",
                    new { keyId, intakeBytes }, tx);
            }
            await EventLog.AppendAsync(c, tx, id, new RunEvent("run.created", null, 1, user.Actor(),
                new Dictionary<string, object?> { ["profile"] = loaded.Profile.Name, ["mode"] = (mode ?? loaded.Profile.Mode).Wire() }), now);
            var outcome = await transitions.ApplyInTransactionAsync(c, tx, id, new StartRun());
            return (outcome.Run!, false, outcome.Decision, null);
        });
        if (overQuota is not null)
        {
            return overQuota;
        }
        if (decision is not null)
        {
            transitions.AfterCommit(decision);
        }
        if (replay && run.RequestHash != requestHash)
        {
            return Problems.Conflict($"Idempotency-Key '{idempotencyKey}' was already used for run {run.Id} with a different request");
        }
        var detail = await DetailAsync(db, transitions, run);
        return TypedResults.Created($"/api/runs/{run.Id}", detail);
    }

    /// <summary>Runs a key created that can still change, the ones that hold workers and workspaces.</summary>
    private static readonly string[] ActiveStatuses = [.. new[] { RunStatus.Pending, RunStatus.Running, RunStatus.AwaitingApproval, RunStatus.Paused }.Select(s => s.Wire())];

    /// <summary>The quota problem this run would hit, or null when the key has room for it. A quota of 0 is off.</summary>
    private static async Task<ProblemHttpResult?> QuotaProblemAsync(SqliteConnection c, IDbTransaction tx, string keyId, long intakeBytes, UsageLimits limits)
    {
        if (limits.QuotaActiveRuns > 0)
        {
            var active = await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM runs WHERE created_by_key = @keyId AND status IN @ActiveStatuses", new { keyId, ActiveStatuses }, tx);
            if (active >= limits.QuotaActiveRuns)
            {
                return QuotaProblem("active_runs", limits.QuotaActiveRuns, active,
                    $"this key has {active} runs that have not finished, its quota (BATON_QUOTA_ACTIVE_RUNS); wait for some to finish, or cancel them");
            }
        }
        if (limits.QuotaStoredBytes > 0)
        {
            var stored = await c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(stored_bytes), 0) FROM key_usage WHERE key_id = @keyId", new { keyId }, tx);
            if (stored + intakeBytes > limits.QuotaStoredBytes)
            {
                return QuotaProblem("stored_bytes", limits.QuotaStoredBytes, stored,
                    $"this key has stored {stored} bytes of intakes; {intakeBytes} more would pass its quota of {limits.QuotaStoredBytes} (BATON_QUOTA_STORED_BYTES)");
            }
        }
        return null;
    }

    /// <summary>403, not 429: waiting does not help a client that retries (stored bytes never go down by themselves).</summary>
    private static ProblemHttpResult QuotaProblem(string quota, long limit, long used, string detail) =>
        TypedResults.Problem(statusCode: 403, title: "Quota reached", detail: detail, type: "urn:baton:problem:quota",
            extensions: new Dictionary<string, object?> { ["quota"] = quota, ["limit"] = limit, ["used"] = used });

    public static async Task<Results<Ok<RunList>, ValidationProblem>> ListAsync(
        string? status, string? profile, string? project, string? limit, string? offset, Database db)
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
        var list = await db.ReadAsync(c => RunStore.ListAsync(c, new RunStore.ListQuery(status, profile, project, take, skip)));
        return TypedResults.Ok(list);
    }

    public static async Task<Results<Ok<RunDetail>, ProblemHttpResult>> GetAsync(string id, HttpContext http, Database db, RunTransitions transitions)
    {
        var run = await db.ReadAsync(c => RunTransitions.LoadRunAsync(c, null, id));
        if (run is null)
        {
            return Problems.NotFound("run", id);
        }
        http.Response.Headers.ETag = ETag(run);
        return TypedResults.Ok(await DetailAsync(db, transitions, run));
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
            var run = await RunTransitions.LoadRunAsync(c, tx, id);
            if (run is null)
            {
                return new TransitionOutcome(new Ignored("no such run"), null);
            }
            var result = new TransitionOutcome(new Ignored("nothing reported"), run);
            if (body.CurrentStep is not null || stepStatus is not null)
            {
                var step = body.CurrentStep ?? run.CurrentPhase ?? "";
                result = await transitions.ApplyInTransactionAsync(c, tx, id, new ExternalReport(user.Actor(), step, stepStatus ?? PhaseStatus.Running));
                if (result.Decision is Refused or Invalid)
                {
                    return result;
                }
            }
            if (body.ProjectName is not null)
            {
                var project = body.ProjectName.Length == 0 ? null : body.ProjectName;
                var now = time.GetUtcNow();
                await c.ExecuteAsync("UPDATE runs SET project_name = @project, updated_at = @now, version = version + 1 WHERE id = @id",
                    new { project, now = now.ToMs(), id }, tx);
                await EventLog.AppendAsync(c, tx, id, new RunEvent("run.updated", null, run.Iteration, user.Actor(),
                    new Dictionary<string, object?> { ["project_name"] = project }), now);
                result = result with { Run = await RunTransitions.LoadRunAsync(c, tx, id) };
            }
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
        return await ApplyAsync(http, id, new NextPhase(user.Actor(), skip), db, transitions);
    }

    public static Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> ApproveAsync(
        string id, ApproveRequest? body, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions) =>
        body?.Comment is { Length: > MaxTextLength }
            ? Task.FromResult<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>>(Problems.Invalid("comment", $"comment is longer than {MaxTextLength} characters"))
            : ApplyAsync(http, id, new ApproveRun(user.Actor(), body?.Comment), db, transitions);

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
        return await ApplyAsync(http, id, new RejectRun(user.Actor(), body.Feedback, string.IsNullOrWhiteSpace(body.RejectTo) ? null : body.RejectTo), db, transitions);
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

    public static Task<Results<Ok<RunDetail>, ValidationProblem, ProblemHttpResult>> RetryAsync(
        string id, HttpContext http, ClaimsPrincipal user, Database db, RunTransitions transitions) =>
        ApplyAsync(http, id, new RetryRun(user.Actor()), db, transitions);

    public static async Task<Results<Ok<ArtifactManifest>, ProblemHttpResult>> ArtifactsAsync(string id, Database db, RunTransitions transitions)
    {
        var manifest = await db.ReadAsync(async c =>
        {
            var run = await RunTransitions.LoadRunAsync(c, null, id);
            return run is null ? null : await RunStore.ArtifactsAsync(c, run, await transitions.ProfileOfAsync(c, null, run));
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
            if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM runs WHERE id = @id", new { id }) == 0)
            {
                return null;
            }
            var row = await c.QuerySingleOrDefaultAsync<Artifacts.ArtifactRow>(
                wanted is null
                    ? "SELECT * FROM artifacts WHERE run_id = @id AND name = @name ORDER BY iteration DESC LIMIT 1"
                    : "SELECT * FROM artifacts WHERE run_id = @id AND name = @name AND iteration = @wanted",
                new { id, name, wanted });
            var content = row is null ? null : await c.QuerySingleAsync<byte[]>("SELECT content FROM blobs WHERE sha256 = @Sha256", row);
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
            var run = await RunTransitions.LoadRunAsync(c, null, id);
            return run is null ? null : await RunStore.MetricsAsync(c, run, await transitions.ProfileOfAsync(c, null, run));
        });
        return metrics is null ? Problems.NotFound("run", id) : TypedResults.Ok(metrics);
    }

    /// <summary>The last `lines` log lines; with `after` (an event id), only lines after it: a follower asks for what is new.</summary>
    public static async Task<Results<Ok<Client.RunLogs>, ValidationProblem, ProblemHttpResult>> LogsAsync(string id, string? lines, string? after, Database db)
    {
        var errors = new Dictionary<string, string[]>();
        var count = ParseInt(lines, "lines", 50, 1, 10_000, errors);
        var since = ParseInt(after, "after", 0, 0, int.MaxValue, errors);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var logs = await db.ReadAsync(async c =>
            await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM runs WHERE id = @id", new { id }) == 0 ? null : new Client.RunLogs(id, await RunLogs.TailAsync(c, id, count, since)));
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
            case { Decision: Refused refused, Run: { } current }:
                return Problems.Conflict(refused.Reason, current.Status);
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
        db.ReadAsync(async c => await RunStore.DetailAsync(c, run, await transitions.ProfileOfAsync(c, null, run)));

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
