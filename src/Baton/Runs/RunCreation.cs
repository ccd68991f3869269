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

    /// <summary>A fork's parent run does not exist.</summary>
    public sealed record NotFound(string RunId) : CreateRunOutcome;
}

/// <summary>
/// Creating a run, for the API and the dashboard's form alike: validates the request, then in one transaction checks the
/// key's quota, stores the run, its intake and its event, and starts it. An Idempotency-Key replays the run it created.
/// </summary>
public static class RunCreation
{
    public const int MaxIntakeBytes = 1024 * 1024;
    public const int MaxNameLength = 200;

    /// <summary>Longer than any phase name (ProfileParser's limit): a request naming a phase is refused past it.</summary>
    public const int MaxPhaseNameLength = 64;

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
        CheckIdempotencyKey(errors, idempotencyKey);
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
        TransitionOutcome? started;
        try
        {
            (outcome, started) = await CreateInTransactionAsync();
        }
        catch (QuotaRollback reached)
        {
            return reached.Outcome;
        }
        if (started is not null)
        {
            transitions.AfterCommit(started.Decision, announced: started.Announced);
        }
        return outcome;

        Task<(CreateRunOutcome, TransitionOutcome?)> CreateInTransactionAsync() => db.WriteAsync<(CreateRunOutcome, TransitionOutcome?)>(async (c, tx) =>
        {
            if (await ReplayOfAsync(c, tx, idempotencyKey, requestHash) is { } replay)
            {
                return (replay, null);
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
                return ((await ReplayOfAsync(c, tx, idempotencyKey, requestHash))!, null);
            }
            var events = new EventBatch();
            events.Add(id, new RunEvent("run.created", null, 1, user.Actor(),
                new Dictionary<string, object?> { ["profile"] = loaded.Profile.Name, ["mode"] = runMode.Wire() }), now);
            var stored = await StartStoredAsync(c, tx, transitions, limits, id, body.Intake!, intakeBytes, keyId, events, new StartRun());
            return (new CreateRunOutcome.Created(stored.Run!), stored);
        });
    }

    /// <summary>
    /// A fork (ADR 38): a new run of the parent's profile version, repository, mode and budget, with the parent's intake
    /// or <see cref="ForkRunRequest.Intake"/>, that starts at <see cref="ForkRunRequest.AtPhase"/> in the iteration the
    /// parent last entered it. It keeps the parent's phase runs, artifacts and gate decisions of the phases before it, and
    /// its branch starts at that phase's base commit (made when its first phase runs). A run in any state may be forked:
    /// only what the parent has recorded of phases it has left behind is copied. Counted against the key like a create,
    /// and like a create an Idempotency-Key replays the fork it made.
    /// </summary>
    public static async Task<CreateRunOutcome> ForkAsync(RunServices services, string parentId, ForkRunRequest? body, string? idempotencyKey, ClaimsPrincipal user)
    {
        var (db, _, transitions, limits, time) = services;
        if (body is null)
        {
            return new CreateRunOutcome.Invalid(new() { ["body"] = ["a JSON body is required: {\"at_phase\": ..., \"intake\": ... (optional)}"] });
        }
        var intakeBytes = body.Intake is null ? (long?)null : Encoding.UTF8.GetByteCount(body.Intake);
        if (intakeBytes > MaxIntakeBytes)
        {
            return new CreateRunOutcome.TooLarge($"intake is larger than {MaxIntakeBytes / 1024} KiB");
        }
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.AtPhase))
        {
            errors["at_phase"] = ["at_phase is required: the phase of the run the fork starts at"];
        }
        else if (body.AtPhase.Length > MaxPhaseNameLength)
        {
            errors["at_phase"] = [$"at_phase is longer than {MaxPhaseNameLength} characters; no phase has such a name"];
        }
        if (body.Intake is not null && string.IsNullOrWhiteSpace(body.Intake))
        {
            errors["intake"] = ["intake, when given, must not be empty: leave it out to keep the parent's"];
        }
        CheckIdempotencyKey(errors, idempotencyKey);
        if (errors.Count > 0)
        {
            return new CreateRunOutcome.Invalid(errors);
        }
        var at = body.AtPhase!;
        // The request as sent (an intake left out is not the parent's text): what a replay must match.
        var requestHash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(new { fork = parentId, body.AtPhase, body.Intake }, BatonJson.Options)));
        var keyId = user.FindFirstValue(ClaimTypes.NameIdentifier);
        var traceParent = Ops.BatonTracing.CurrentTraceParent();
        CreateRunOutcome outcome;
        TransitionOutcome? started;
        try
        {
            (outcome, started) = await db.WriteAsync<(CreateRunOutcome, TransitionOutcome?)>(async (c, tx) =>
            {
                if (await ReplayOfAsync(c, tx, idempotencyKey, requestHash) is { } replay)
                {
                    return (replay, null);
                }
                // Jobs before the run (the lock order, ADR 25): the parent stays as it is read until this commits.
                await Engine.JobQueue.LockOfRunAsync(c, tx, parentId);
                var parent = await RunStore.LoadAsync(c, tx, parentId);
                if (parent is null)
                {
                    return (new CreateRunOutcome.NotFound(parentId), null);
                }
                var profile = await transitions.ProfileOfAsync(c, tx, parent);
                if (profile.Phase(at) is null)
                {
                    return (Bad("at_phase", $"'{at}' is not a phase of profile {profile.Name}; its phases are: {string.Join(", ", profile.Phases.Select(p => p.Name))}"), null);
                }
                var bases = await RunStore.PhaseBasesAsync(c, tx, parentId);
                if (!bases.TryGetValue(at, out var atBase))
                {
                    var reached = profile.Phases.Where(p => bases.ContainsKey(p.Name)).Select(p => p.Name).ToList();
                    return (Bad("at_phase", $"'{at}' never ran in run {parentId}, so it has no base commit to fork from; it reached: {(reached.Count == 0 ? "no phase" : string.Join(", ", reached))}"), null);
                }
                var now = time.GetUtcNow();
                var id = Ids.New("run", time);
                var intake = body.Intake ?? await RunIntakes.ReadAsync(c, tx, parentId);
                var loaded = new LoadedProfile(profile, await RunStore.ProfileSourceAsync(c, tx, parent.ProfileHash), parent.ProfileHash, "stored", "");
                var inserted = await RunStore.InsertAsync(c, tx, new RunStore.NewRunRow(
                    id, loaded, parent.ProjectName, StateNames.Parse<RunMode>(parent.Mode), parent.BudgetUsd is { } b ? (decimal)b : null,
                    idempotencyKey, requestHash, user.Actor(), keyId, parent.RepositoryId, now, traceParent) { Fork = (parentId, at, atBase.CommitSha) });
                if (!inserted)
                {
                    // The same Idempotency-Key committed its run while this one was on its way (another node).
                    return ((await ReplayOfAsync(c, tx, idempotencyKey, requestHash))!, null);
                }
                // What the phases before `at` left, as the parent has it: the fork's later phases read these.
                var earlier = profile.Phases.TakeWhile(p => p.Name != at).Select(p => p.Name).ToList();
                if (earlier.Count > 0)
                {
                    await RunStore.CopyPhaseRunsAsync(c, tx, parentId, id, earlier, atBase.Iteration);
                    await Artifacts.ArtifactStore.CopyAsync(c, tx, parentId, id, earlier, atBase.Iteration);
                    await GateStore.CopyAsync(c, tx, parentId, id, earlier, atBase.Iteration);
                }
                var events = new EventBatch();
                events.Add(id, new RunEvent("run.created", null, atBase.Iteration, user.Actor(),
                    new Dictionary<string, object?> { ["profile"] = profile.Name, ["mode"] = parent.Mode, ["parent_run_id"] = parentId }), now);
                events.Add(id, new RunEvent("run.forked", at, atBase.Iteration, user.Actor(), new Dictionary<string, object?>
                {
                    ["parent_run_id"] = parentId,
                    ["at_phase"] = at,
                    ["base_commit"] = atBase.CommitSha,
                    ["kept_phases"] = earlier,
                    ["intake_replaced"] = body.Intake is not null,
                }), now);
                var stored = await StartStoredAsync(c, tx, transitions, limits, id, intake, Encoding.UTF8.GetByteCount(intake), keyId, events, new StartRun(at, atBase.Iteration));
                return (new CreateRunOutcome.Created(stored.Run!), stored);
            });
        }
        catch (QuotaRollback reached)
        {
            return reached.Outcome;
        }
        if (started is not null)
        {
            transitions.AfterCommit(started.Decision, announced: started.Announced);
        }
        return outcome;

        static CreateRunOutcome Bad(string field, string message) => new CreateRunOutcome.Invalid(new() { [field] = [message] });
    }

    /// <summary>
    /// The rest of a create (or a fork) after its `runs` row, in its transaction: the intake, the start's events with
    /// <paramref name="events"/> (written last, ADR 23), and the key's quota checked and counted.
    /// </summary>
    private static async Task<TransitionOutcome> StartStoredAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, RunTransitions transitions,
        UsageLimits limits, string id, string intake, long intakeBytes, string? keyId, EventBatch events, StartRun start)
    {
        await RunIntakes.SaveAsync(c, tx, id, intake);
        // A run this transaction is creating has no jobs to lock: no other transaction can see it yet.
        // Somebody waits for the run to start: its first job may be announced with this transaction's COMMIT.
        var started = await transitions.ApplyInTransactionAsync(c, tx, id, start, events: events, jobsLocked: true, announceJobs: true);
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
        return started;
    }

    /// <summary>A quota found reached after the run was written: thrown to roll its transaction back.</summary>
    private sealed class QuotaRollback(CreateRunOutcome.QuotaReached outcome) : Exception(outcome.Detail)
    {
        public CreateRunOutcome.QuotaReached Outcome { get; } = outcome;
    }

    /// <summary>An Idempotency-Key, when sent, is 1 to 255 characters (a create's and a fork's).</summary>
    private static void CheckIdempotencyKey(Dictionary<string, string[]> errors, string? idempotencyKey)
    {
        if (idempotencyKey is { Length: 0 or > 255 })
        {
            errors["Idempotency-Key"] = ["the Idempotency-Key header must be 1 to 255 characters"];
        }
    }

    /// <summary>
    /// The answer to a request whose Idempotency-Key already created a run: that run, if the request is the same, else
    /// a conflict; null when there is no key or it created nothing yet.
    /// </summary>
    private static async Task<CreateRunOutcome?> ReplayOfAsync(System.Data.IDbConnection c, System.Data.IDbTransaction tx, string? idempotencyKey, string requestHash) =>
        idempotencyKey is not null && await RunStore.FindByIdempotencyKeyAsync(c, tx, idempotencyKey) is { } existing
            ? existing.RequestHash == requestHash
                ? new CreateRunOutcome.Created(existing)
                : new CreateRunOutcome.KeyReused($"Idempotency-Key '{idempotencyKey}' was already used for run {existing.Id} with a different request")
            : null;

    /// <summary>
    /// The quota this run would pass, or null when the key has room for it. A quota of 0 is off. <paramref name="stored"/>
    /// was read with the key's usage row locked.
    /// </summary>
    private static async Task<CreateRunOutcome.QuotaReached?> QuotaReachedAsync(
        System.Data.IDbConnection c, System.Data.IDbTransaction tx, string keyId, string runId, long stored, long intakeBytes, UsageLimits limits)
    {
        if (limits.QuotaActiveRuns > 0)
        {
            var active = await RunStore.CountActiveOfKeyAsync(c, tx, keyId, exceptRunId: runId, upTo: limits.QuotaActiveRuns);
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
