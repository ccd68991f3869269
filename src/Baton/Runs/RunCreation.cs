using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>What the run features need from the host, bound as one <c>[AsParameters]</c> handler parameter.</summary>
public sealed record RunServices(Database Db, ProfileCatalog Catalog, RunTransitions Transitions, UsageLimits Limits, TimeProvider Time);

/// <summary>How a request to create a run ended: the API answers each with its status, the dashboard with its form.</summary>
public abstract record CreateRunOutcome
{
    private CreateRunOutcome()
    {
    }

    /// <summary>The run, just created, or the one an earlier request with the same Idempotency-Key and body created.</summary>
    public sealed record Created(RunRow Run) : CreateRunOutcome;

    /// <summary>Bad input, by field (the API's field names: profile, intake, project_name, mode, budget_usd, repository_id, Idempotency-Key, body).</summary>
    public sealed record Invalid(Dictionary<string, string[]> Errors) : CreateRunOutcome;

    /// <summary>The intake is over <see cref="RunCreation.MaxIntakeBytes"/>.</summary>
    public sealed record TooLarge(string Detail) : CreateRunOutcome;

    /// <summary>The caller's role does not allow the request (a budget above the profile's needs an approver).</summary>
    public sealed record Forbidden(string Detail) : CreateRunOutcome;

    /// <summary>The key has reached one of its quotas (BATON_QUOTA_*); waiting does not help, so it is not a 429.</summary>
    public sealed record QuotaReached(string Quota, long Limit, long Used, string Detail) : CreateRunOutcome;

    /// <summary>The Idempotency-Key was used before with a different request.</summary>
    public sealed record KeyReused(string Detail) : CreateRunOutcome;
}

/// <summary>
/// Creating a run, for the API and the dashboard's form alike: validates the request, then in one transaction checks the
/// key's quota, stores the run, its intake and its event, and starts it. An Idempotency-Key replays the run it created.
/// </summary>
public static class RunCreation
{
    public const int MaxIntakeBytes = 1024 * 1024;
    public const int MaxNameLength = 200;

    public static async Task<CreateRunOutcome> CreateAsync(RunServices services, CreateRunRequest? body, string? idempotencyKey, ClaimsPrincipal user)
    {
        var (db, catalog, transitions, limits, time) = services;
        if (body is null)
        {
            return new CreateRunOutcome.Invalid(new() { ["body"] = ["a JSON body is required: {\"profile\": ..., \"intake\": ...}"] });
        }
        var intakeBytes = body.Intake is null ? 0 : Encoding.UTF8.GetByteCount(body.Intake);
        if (intakeBytes > MaxIntakeBytes)
        {
            return new CreateRunOutcome.TooLarge($"intake is larger than {MaxIntakeBytes / 1024} KiB");
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
            var existing = named.Count == 0 ? [] : (await db.ReadAsync(c => Agents.WorkerStore.ExistingNamesAsync(c, null, named))).ToList();
            var missing = named.Except(existing).ToList();
            if (missing.Count > 0)
            {
                errors["profile"] = [$"profile '{profile.Profile.Name}' uses worker(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}, which do not exist; create them with POST /api/workers"];
            }
        }
        if (body.RepositoryId is not null && !await db.ReadAsync(c => Workspaces.RepositoryStore.ExistsAsync(c, null, body.RepositoryId)))
        {
            errors["repository_id"] = [$"no repository '{body.RepositoryId}'; see GET /api/repositories"];
        }
        if (idempotencyKey is { Length: 0 or > 255 })
        {
            errors["Idempotency-Key"] = ["the Idempotency-Key header must be 1 to 255 characters"];
        }
        if (errors.Count > 0)
        {
            return new CreateRunOutcome.Invalid(errors);
        }
        // The profile's budget is an admin's choice (admins write profiles); spending past it is an approver's.
        if (profile!.Profile.BudgetUsd is { } profileBudget && body.BudgetUsd > profileBudget && !user.Has(Roles.Approver))
        {
            return new CreateRunOutcome.Forbidden(
                $"budget_usd {body.BudgetUsd} is above profile '{profile.Profile.Name}''s budget of {profileBudget} USD; a larger budget needs the approver role");
        }

        var keyId = user.FindFirstValue(ClaimTypes.NameIdentifier);
        var requestHash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, BatonJson.Options)));
        var loaded = profile;
        // Read here: the transaction may run on the group-commit writer's thread, outside this request's span.
        var traceParent = Ops.BatonTracing.CurrentTraceParent();
        CreateRunOutcome outcome;
        RunDecision? decision;
        try
        {
            (outcome, decision) = await CreateInTransactionAsync();
        }
        catch (QuotaRollback reached)
        {
            return reached.Outcome;
        }
        if (decision is not null)
        {
            transitions.AfterCommit(decision);
        }
        return outcome;

        Task<(CreateRunOutcome, RunDecision?)> CreateInTransactionAsync() => db.WriteAsync<(CreateRunOutcome, RunDecision?)>(async (c, tx) =>
        {
            if (idempotencyKey is not null && await RunStore.FindByIdempotencyKeyAsync(c, tx, idempotencyKey) is { } existing)
            {
                return (Replay(existing, requestHash, idempotencyKey), null);
            }
            if (body.RepositoryId is not null && !await Workspaces.RepositoryStore.ExistsAsync(c, tx, body.RepositoryId))
            {
                // Deleted since it was validated above.
                return (new CreateRunOutcome.Invalid(new() { ["repository_id"] = [$"no repository '{body.RepositoryId}'; see GET /api/repositories"] }), null);
            }
            var now = time.GetUtcNow();
            var id = Ids.New("run", time);
            var runMode = mode ?? loaded.Profile.Mode;
            var inserted = await RunStore.InsertAsync(c, tx, new RunStore.NewRunRow(
                id, loaded, string.IsNullOrWhiteSpace(body.ProjectName) ? null : body.ProjectName, runMode,
                body.BudgetUsd ?? loaded.Profile.BudgetUsd, idempotencyKey, requestHash, user.Actor(), keyId, body.RepositoryId, now, traceParent));
            if (!inserted)
            {
                // A request with the same Idempotency-Key (another key's, or on a server without quotas) committed its run
                // while this one was on its way: it is answered as the replay it is.
                return (Replay((await RunStore.FindByIdempotencyKeyAsync(c, tx, idempotencyKey!))!, requestHash, idempotencyKey!), null);
            }
            await RunIntakes.SaveAsync(c, tx, id, body.Intake!);
            // One batch with the start's events, written last (ADR 23): the transaction's events are its final statement.
            var events = new EventBatch();
            events.Add(id, new RunEvent("run.created", null, 1, user.Actor(),
                new Dictionary<string, object?> { ["profile"] = loaded.Profile.Name, ["mode"] = runMode.Wire() }), now);
            var started = await transitions.ApplyInTransactionAsync(c, tx, id, new StartRun(), events: events);
            if (keyId is not null)
            {
                // Checked and counted in the transaction that creates the run, so two requests at once cannot both fit:
                // the key's usage row is locked until the commit, and the creates of one key take turns here (on any
                // node). Last, so that the turn lasts only these statements and the commit: taken first, it made every
                // create of a busy key wait for the whole transaction of each one before it (issue 11's bench).
                if (limits.QuotaActiveRuns > 0 || limits.QuotaStoredBytes > 0)
                {
                    var stored = await Auth.ApiKeyStore.LockUsageAsync(c, tx, keyId);
                    if (await QuotaReachedAsync(c, tx, keyId, id, stored, intakeBytes, limits) is { } quota)
                    {
                        // Nothing of this create may stay: the exception rolls the transaction back.
                        throw new QuotaRollback(quota);
                    }
                }
                await Auth.ApiKeyStore.AddStoredBytesAsync(c, tx, keyId, intakeBytes);
            }
            await events.WriteAsync(c, tx);
            return (new CreateRunOutcome.Created(started.Run!), started.Decision);
        });
    }

    /// <summary>A quota found reached after the run was written: thrown to roll its transaction back.</summary>
    private sealed class QuotaRollback(CreateRunOutcome.QuotaReached outcome) : Exception(outcome.Detail)
    {
        public CreateRunOutcome.QuotaReached Outcome { get; } = outcome;
    }

    /// <summary>The answer to a request whose Idempotency-Key created <paramref name="existing"/>: that run, if the request is the same.</summary>
    private static CreateRunOutcome Replay(RunRow existing, string requestHash, string idempotencyKey) =>
        existing.RequestHash == requestHash
            ? new CreateRunOutcome.Created(existing)
            : new CreateRunOutcome.KeyReused($"Idempotency-Key '{idempotencyKey}' was already used for run {existing.Id} with a different request");

    /// <summary>
    /// The quota this run would pass, or null when the key has room for it. A quota of 0 is off. <paramref name="stored"/>
    /// was read with the key's usage row locked.
    /// </summary>
    private static async Task<CreateRunOutcome.QuotaReached?> QuotaReachedAsync(
        System.Data.IDbConnection c, System.Data.IDbTransaction tx, string keyId, string runId, long stored, long intakeBytes, UsageLimits limits)
    {
        if (limits.QuotaActiveRuns > 0)
        {
            var active = await RunStore.CountActiveOfKeyAsync(c, tx, keyId, exceptRunId: runId);
            if (active >= limits.QuotaActiveRuns)
            {
                return new("active_runs", limits.QuotaActiveRuns, active,
                    $"this key has {active} runs that have not finished, its quota (BATON_QUOTA_ACTIVE_RUNS); wait for some to finish, or cancel them");
            }
        }
        if (limits.QuotaStoredBytes > 0)
        {
            if (stored + intakeBytes > limits.QuotaStoredBytes)
            {
                return new("stored_bytes", limits.QuotaStoredBytes, stored,
                    $"this key has stored {stored} bytes of intakes; {intakeBytes} more would pass its quota of {limits.QuotaStoredBytes} (BATON_QUOTA_STORED_BYTES)");
            }
        }
        return null;
    }
}
