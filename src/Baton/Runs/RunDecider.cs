using System.Text.Json;
using Baton.Auth;
using Baton.Profiles;

namespace Baton.Runs;

/// <summary>What the decider needs to know of a run; read inside the transaction that applies the decision.</summary>
public sealed record RunState(
    RunStatus Status,
    RunMode Mode,
    string? CurrentPhase,
    int Iteration,
    WaitReason? Wait,
    decimal CostUsd,
    decimal? BudgetUsd,
    bool BudgetApproved,
    int SucceededExecutions,
    int IterationBase = 0,
    string? ResumePhase = null,
    string? ResumeFeedback = null,
    bool CostUnknown = false)
{
    /// <summary>The gate (or paused phase) the run waits at, as it is now: what a decision must match. Null elsewhere.</summary>
    public OpenGateState? Gate { get; init; }

    /// <summary>For a retry from a phase: each phase entered so far, with its base commit (ADR 38). Null elsewhere.</summary>
    public IReadOnlyDictionary<string, PhaseBase>? PhaseBases { get; init; }
}

/// <summary>Who decides a gate, as their key says; <see cref="KeyId"/> tells approvals apart.</summary>
public sealed record GateDecider(string KeyId, string Name, string Role, IReadOnlyList<string> Groups);

/// <summary>An approval or rejection of a gate, as `gate_decisions` keeps it.</summary>
public sealed record GateVote(string Decider, string Actor, string Decision, string Digest, string? Commit, string? Comment, string? InputsJson, DateTimeOffset At)
{
    public const string Approved = "approved";
    public const string Rejected = "rejected";

    /// <summary>The deciding key's groups when it decided: what `require_groups` counts it for (ADR 39).</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>
/// What a decision at a gate is bound to: the digest over the phase's artifacts and the workspace commit, that commit,
/// the decisions so far of this gate, and the key that created the run (for self_approval: deny).
/// </summary>
public sealed record OpenGateState(string Digest, string? Commit, IReadOnlyList<GateVote> Votes, string? CreatedByKey);

public abstract record RunTrigger;

/// <summary>A new run starts at its first phase; a fork (ADR 38) at <see cref="AtPhase"/>, in the parent's iteration of it.</summary>
public sealed record StartRun(string? AtPhase = null, int Iteration = 1) : RunTrigger;

public sealed record PhaseSucceeded(string Phase, int Iteration, IReadOnlyList<string> CheckFailures) : RunTrigger;

public sealed record PhaseFailed(string Phase, int Iteration, string Error) : RunTrigger;

/// <summary>A human's (or the timeout's) approval; <see cref="By"/>, <see cref="Digest"/> and <see cref="Inputs"/> as the request gave them.</summary>
public sealed record ApproveRun(string Actor, string? Comment) : RunTrigger
{
    public GateDecider? By { get; init; }
    public string? Digest { get; init; }
    public IReadOnlyDictionary<string, JsonElement>? Inputs { get; init; }
}

public sealed record RejectRun(string Actor, string Feedback, string? RejectTo) : RunTrigger
{
    public GateDecider? By { get; init; }
    public string? Digest { get; init; }
}

public sealed record NextPhase(string Actor, bool SkipValidation) : RunTrigger
{
    public string? Digest { get; init; }
}

public sealed record CancelRun(string Actor, string? Reason) : RunTrigger;

/// <summary>A failed or cancelled run goes on as a new iteration, at <see cref="FromPhase"/> or (null) where it stopped.</summary>
public sealed record RetryRun(string Actor, string? FromPhase = null) : RunTrigger;

public sealed record GateTimedOut(string Phase, int Iteration) : RunTrigger;

/// <summary>A gate's remind_after came round: remind again while it waits.</summary>
public sealed record GateReminderDue(string Phase, int Iteration) : RunTrigger;

/// <summary>An `external` phase's progress reported through PATCH: running, completed or failed.</summary>
public sealed record ExternalReport(string Actor, string Phase, PhaseStatus Status) : RunTrigger;

public abstract record RunDecision;

/// <summary>The trigger does not apply to the run's current state: 409 with the current status.</summary>
public sealed record Refused(string Reason) : RunDecision
{
    /// <summary>The decider may not decide this gate (its policy): 403 rather than 409.</summary>
    public bool Forbidden { get; init; }

    /// <summary>The decision named a digest that is no longer what waits at the gate: this is the current one.</summary>
    public string? CurrentDigest { get; init; }
}

/// <summary>The trigger's input is wrong for this run: 400 with a field error (or, for a gate's form, one per field).</summary>
public sealed record Invalid(string Field, string Message) : RunDecision
{
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }
}

/// <summary>A job's trigger that no longer matches the run (the run moved on); nothing to do.</summary>
public sealed record Ignored(string Why) : RunDecision;

public sealed record Transition(
    RunStatus Status,
    string? CurrentPhase,
    int Iteration,
    WaitReason? Wait,
    string? Error,
    bool BudgetApproved,
    int IterationBase,
    string? ResumePhase,
    string? ResumeFeedback,
    IReadOnlyList<PhaseChange> Phases,
    IReadOnlyList<JobRequest> Jobs,
    bool ClearJobs,
    bool CancelOpenPhases,
    IReadOnlyList<RunEvent> Events) : RunDecision
{
    /// <summary>A gate decision to record in `gate_decisions`, in the same transaction.</summary>
    public GateVote? Vote { get; init; }

    /// <summary>The commit the run's workspace goes back to before its next phase runs (a retry from an earlier phase, ADR 38).</summary>
    public string? ResetWorkspaceTo { get; init; }

    /// <summary>The time it was decided at, which its jobs to run at once are due at.</summary>
    public DateTimeOffset DecidedAt { get; init; }

    /// <summary>How many of its jobs a worker can claim at once. The rest (a gate's deadline, a reminder) come due later.</summary>
    public int JobsDue => Jobs.Count(j => j.RunAt <= DecidedAt);
}

/// <summary>An upsert of one phase run; null fields keep what is stored.</summary>
public sealed record PhaseChange(string Phase, int Iteration, PhaseStatus Status)
{
    public string? Feedback { get; init; }
    public string? Error { get; init; }
    public bool Started { get; init; }
    public bool Finished { get; init; }
    public string? GateStatus { get; init; }
    public string? GateActor { get; init; }
    public string? GateComment { get; init; }
    public DateTimeOffset? GateDeadline { get; init; }
    public string? ValidationSkippedBy { get; init; }
}

/// <summary>A follow-up job; <see cref="Worker"/> names the worker that will run it, for per-worker limits.</summary>
public sealed record JobRequest(string Kind, string Phase, int Iteration, DateTimeOffset RunAt, string? Worker = null)
{
    public const string ExecutePhase = "execute_phase";
    public const string ExpireGate = "expire_gate";
    public const string RunExecution = "run_execution";
    public const string RemindGate = "remind_gate";
    public const string DeliverWebhook = "deliver_webhook";
}

public sealed record RunEvent(string Type, string? Phase, int? Iteration, string? Actor, IReadOnlyDictionary<string, object?>? Data = null);

/// <summary>
/// Every run transition, as a pure function of (state, profile, trigger, now). The engine and the API
/// carry out what it returns in one transaction; nothing here touches the database or the clock.
/// </summary>
public static class RunDecider
{
    public const string SystemActor = "system";

    public static RunDecision Decide(RunState run, Profile profile, RunTrigger trigger, DateTimeOffset now) =>
        new Plan(run, profile, now).Apply(trigger);

    /// <summary>
    /// The next phase would push spend past the budget, judged by the average cost of a phase so far; or some of the
    /// spend is unknown (ADR 28), which no budget can be checked against: a human decides either way.
    /// </summary>
    public static bool BudgetWouldBeExceeded(RunState run)
    {
        if (run.BudgetUsd is not { } budget || run.BudgetApproved)
        {
            return false;
        }
        if (run.CostUnknown)
        {
            return true;
        }
        var averagePhaseCost = run.SucceededExecutions > 0 ? run.CostUsd / run.SucceededExecutions : 0m;
        return run.CostUsd + averagePhaseCost > budget;
    }

    /// <summary>
    /// Why the gate's policy does not let this key decide (not among `approvers`, or its own run under
    /// `self_approval: deny`), or null when it may: the decider's 403 and the inbox's filter alike.
    /// </summary>
    public static string? WhyNot(GateDefinition gate, GateDecider by, string? createdByKey, string verb)
    {
        var matches = gate.Approvers.Any(a => a.StartsWith("role:", StringComparison.Ordinal)
            ? Roles.Rank(by.Role) >= Roles.Rank(a["role:".Length..]) && Roles.Rank(a["role:".Length..]) >= 0
            : a.StartsWith("group:", StringComparison.Ordinal) && by.Groups.Contains(a["group:".Length..]));
        if (!matches)
        {
            var groups = by.Groups.Count == 0 ? "no groups" : "groups " + string.Join(", ", by.Groups);
            return $"key '{by.Name}' (role {by.Role}, {groups}) may not {verb} this gate; its approvers are: {string.Join(", ", gate.Approvers)}";
        }
        if (!gate.SelfApproval && createdByKey is { } creator && creator == by.KeyId)
        {
            return $"self_approval is deny at this gate: key '{by.Name}' created the run, so it may not {verb} it; another key must";
        }
        return null;
    }

    private sealed class Plan(RunState run, Profile profile, DateTimeOffset now)
    {
        private readonly List<PhaseChange> _phases = [];
        private readonly List<JobRequest> _jobs = [];
        private readonly List<RunEvent> _events = [];
        private RunStatus _status = run.Status;
        private string? _current = run.CurrentPhase;
        private int _iteration = run.Iteration;
        private WaitReason? _wait = run.Wait;
        private string? _error;
        private bool _budgetApproved = run.BudgetApproved;
        private int _iterationBase = run.IterationBase;
        private string? _resumePhase;
        private string? _resumeFeedback;
        private bool _clearJobs;
        private bool _cancelOpen;
        private GateVote? _vote;
        private string? _resetTo;

        public RunDecision Apply(RunTrigger trigger) => trigger switch
        {
            StartRun s => Start(s),
            PhaseSucceeded s => Succeeded(s),
            PhaseFailed f => Failed(f),
            ApproveRun a => Approve(a),
            RejectRun r => Reject(r),
            NextPhase n => Next(n),
            CancelRun c => Cancel(c),
            RetryRun r => Retry(r),
            GateTimedOut g => GateTimeout(g),
            GateReminderDue r => Remind(r),
            ExternalReport e => External(e),
            _ => throw new ArgumentOutOfRangeException(nameof(trigger), trigger, "unknown trigger"),
        };

        private RunDecision Start(StartRun s)
        {
            if (run.Status != RunStatus.Pending)
            {
                return new Refused($"run is {run.Status.Wire()}; only a pending run can start");
            }
            Event("run.started", null);
            // A fork goes on in the iteration its parent was in at that phase, with max_iterations counted afresh.
            _iterationBase = s.Iteration - 1;
            EnterPhase(s.AtPhase ?? profile.Phases[0].Name, s.Iteration, feedback: null, skipValidationBy: null);
            return Done();
        }

        private RunDecision Succeeded(PhaseSucceeded s)
        {
            if (!IsWorkingOn(s.Phase, s.Iteration))
            {
                return new Ignored($"run is {run.Status.Wire()} at {run.CurrentPhase}#{run.Iteration}");
            }
            var phase = profile.Phase(s.Phase)!;
            if (s.CheckFailures.Count > 0)
            {
                var reason = "checks failed: " + string.Join("; ", s.CheckFailures);
                _phases.Add(new PhaseChange(s.Phase, s.Iteration, PhaseStatus.Failed) { Error = reason, Finished = true });
                Event("phase.checks_failed", s.Phase, data: new() { ["failures"] = s.CheckFailures });
                if (run.Mode == RunMode.Manual)
                {
                    Pause(WaitReason.ChecksFailed, reason);
                }
                else
                {
                    FailurePath(phase, reason);
                }
                return Done();
            }
            AcceptOutput(phase, s.Iteration, humanGoAhead: false);
            return Done();
        }

        private RunDecision Failed(PhaseFailed f)
        {
            if (!IsWorkingOn(f.Phase, f.Iteration))
            {
                return new Ignored($"run is {run.Status.Wire()} at {run.CurrentPhase}#{run.Iteration}");
            }
            _phases.Add(new PhaseChange(f.Phase, f.Iteration, PhaseStatus.Failed) { Error = f.Error, Finished = true });
            Event("phase.failed", f.Phase, data: new() { ["error"] = f.Error });
            Fail($"phase {f.Phase} failed: {f.Error}");
            return Done();
        }

        private RunDecision Approve(ApproveRun a)
        {
            if (run.Status != RunStatus.AwaitingApproval)
            {
                return new Refused($"run is {run.Status.Wire()}; only a run awaiting approval can be approved");
            }
            if (run.Wait == WaitReason.Budget)
            {
                _budgetApproved = true;
                Event("budget.approved", _current, a.Actor, new() { ["comment"] = a.Comment, ["cost_usd"] = run.CostUsd, ["budget_usd"] = run.BudgetUsd });
                StartPhase(profile.Phase(_current!)!, _iteration, feedback: null, skipValidationBy: null);
                return Done();
            }
            var phase = profile.Phase(_current!)!;
            var policy = phase.Gate ?? DefaultGate(phase.Name);
            var open = run.Gate ?? new OpenGateState("", null, [], null);
            var human = a.Actor != SystemActor;
            var by = a.By ?? new GateDecider(a.Actor, a.Actor, Roles.Approver, []);
            if (human && (MayNotDecide(policy, by, open, "approve") ?? StaleDigest(a.Digest, open)) is { } refused)
            {
                return refused;
            }
            var approvals = open.Votes.Where(v => v.Decision == GateVote.Approved).ToList();
            if (human && approvals.Any(v => v.Decider == by.KeyId))
            {
                return new Refused($"key '{by.Name}' already approved this gate ({approvals.Count} of {policy.Approvals} approvals); another key must approve");
            }
            var approvedGroups = approvals.Select(v => v.Groups).ToList();
            if (human && GateQuorum.WhyNotCounted(policy, approvedGroups, by.Name, by.Groups) is { } uncounted)
            {
                return new Refused(uncounted);
            }
            Dictionary<string, string[]> errors = [];
            var values = human ? CheckInputs(policy, a.Inputs, out errors) : null;
            if (human && errors.Count > 0)
            {
                return new Invalid(errors.Keys.First(), string.Join(" ", errors.SelectMany(e => e.Value))) { Errors = errors };
            }
            _vote = new GateVote(human ? by.KeyId : SystemActor, a.Actor, GateVote.Approved, open.Digest, open.Commit, a.Comment, values, now)
            {
                Groups = human ? by.Groups : [],
            };
            var decision = new Dictionary<string, object?>
            {
                ["comment"] = a.Comment,
                ["digest"] = open.Digest,
                ["commit"] = open.Commit,
                ["decider"] = _vote.Decider,
                ["approvals"] = approvals.Count + 1,
                ["approvals_required"] = policy.Approvals,
            };
            if (policy.RequiredGroups.Count > 0)
            {
                decision["groups"] = _vote.Groups;
                decision["missing_groups"] = GateQuorum.MissingGroups(policy.RequiredGroups, [.. approvedGroups, _vote.Groups]);
            }
            if (human && approvals.Count + 1 < policy.Approvals)
            {
                // Not enough approvals yet: the run keeps waiting, with the expiry job that is already there.
                Event("gate.approval_recorded", phase.Name, a.Actor, decision);
                return Done();
            }
            _clearJobs = true; // the gate's expiry job has nothing left to do
            _phases.Add(new PhaseChange(phase.Name, _iteration, PhaseStatus.Completed)
            {
                Finished = true,
                GateStatus = "approved",
                GateActor = a.Actor,
                GateComment = a.Comment,
            });
            Event("gate.approved", phase.Name, a.Actor, decision);
            Event("phase.completed", phase.Name);
            AfterAccepted(phase, humanGoAhead: true);
            return Done();
        }

        private RunDecision Reject(RejectRun r)
        {
            if (run.Status != RunStatus.AwaitingApproval || run.Wait != WaitReason.Gate)
            {
                return new Refused(run.Status == RunStatus.AwaitingApproval
                    ? "run is awaiting a budget approval, not a gate; approve it or cancel the run"
                    : $"run is {run.Status.Wire()}; only a run waiting at a gate can be rejected");
            }
            var phase = profile.Phase(_current!)!;
            var open = run.Gate ?? new OpenGateState("", null, [], null);
            var by = r.By ?? new GateDecider(r.Actor, r.Actor, Roles.Approver, []);
            if (r.Actor != SystemActor && (MayNotDecide(phase.Gate ?? DefaultGate(phase.Name), by, open, "reject") ?? StaleDigest(r.Digest, open)) is { } refused)
            {
                return refused;
            }
            var allowed = phase.Gate?.RejectTo ?? [phase.Name];
            var target = r.RejectTo ?? allowed[0];
            if (!allowed.Contains(target))
            {
                return new Invalid("reject_to", $"'{target}' is not allowed at the {phase.Name} gate; allowed: {string.Join(", ", allowed)}");
            }
            _clearJobs = true; // the gate's expiry job has nothing left to do
            _phases.Add(new PhaseChange(phase.Name, _iteration, PhaseStatus.Completed)
            {
                Finished = true,
                GateStatus = "rejected",
                GateActor = r.Actor,
                GateComment = r.Feedback,
            });
            _vote = new GateVote(r.Actor == SystemActor ? SystemActor : by.KeyId, r.Actor, GateVote.Rejected, open.Digest, open.Commit, r.Feedback, null, now)
            {
                Groups = r.Actor == SystemActor ? [] : by.Groups,
            };
            Event("gate.rejected", phase.Name, r.Actor, new()
            {
                ["feedback"] = r.Feedback,
                ["reject_to"] = target,
                ["digest"] = open.Digest,
                ["commit"] = open.Commit,
                ["decider"] = _vote.Decider,
            });
            LoopBack(target, r.Feedback);
            return Done();
        }

        private RunDecision Next(NextPhase n)
        {
            if (run.Status != RunStatus.Paused)
            {
                return new Refused($"run is {run.Status.Wire()}; next applies to a paused run (manual mode)");
            }
            if (run.Gate is { } open && StaleDigest(n.Digest, open) is { } stale)
            {
                return stale;
            }
            var phase = profile.Phase(_current!)!;
            _status = RunStatus.Running;
            _wait = null;
            Event("run.resumed", phase.Name, n.Actor, new()
            {
                ["skip_validation"] = n.SkipValidation,
                ["digest"] = run.Gate?.Digest,
                ["commit"] = run.Gate?.Commit,
            });
            if (run.Wait == WaitReason.ChecksFailed)
            {
                if (!n.SkipValidation)
                {
                    FailurePath(phase, "checks failed");
                    return Done();
                }
                Event("validation.skipped", phase.Name, n.Actor);
                AcceptOutput(phase, _iteration, humanGoAhead: true, validationSkippedBy: n.Actor);
                return Done();
            }
            var next = profile.After(phase.Name);
            if (next is null)
            {
                Complete();
                return Done();
            }
            EnterPhase(next.Name, _iteration, feedback: null, skipValidationBy: n.SkipValidation ? n.Actor : null);
            return Done();
        }

        private RunDecision Cancel(CancelRun c)
        {
            if (run.Status.IsTerminal())
            {
                return new Refused($"run is {run.Status.Wire()}; a finished run cannot be cancelled");
            }
            _status = RunStatus.Cancelled;
            _wait = null;
            _clearJobs = true;
            _cancelOpen = true;
            Event("run.cancelled", _current, c.Actor, new() { ["reason"] = c.Reason });
            return Done();
        }

        private RunDecision Retry(RetryRun r)
        {
            if (run.Status is not (RunStatus.Failed or RunStatus.Cancelled))
            {
                return new Refused($"run is {run.Status.Wire()}; only a failed or cancelled run can be retried");
            }
            // A retry is a new iteration, so nothing the failed attempt produced is overwritten. It is a human's
            // explicit decision: max_iterations counts afresh from here. A run stopped by max_iterations resumes
            // where its loop was going, with the feedback that loop carried.
            var stoppedAt = _current!;
            var target = run.ResumePhase ?? stoppedAt;
            var feedback = run.ResumeFeedback;
            string? resetTo = null;
            if (r.FromPhase is { } from)
            {
                if (profile.Phase(from) is null)
                {
                    return new Invalid("from_phase", $"'{from}' is not a phase of profile {profile.Name}; its phases are: {string.Join(", ", profile.Phases.Select(p => p.Name))}");
                }
                if (profile.IndexOf(from) > profile.IndexOf(stoppedAt))
                {
                    return new Invalid("from_phase", $"'{from}' comes after '{stoppedAt}', where the run stopped; retry from '{stoppedAt}' or a phase before it");
                }
                if (from != stoppedAt)
                {
                    if (run.PhaseBases?.GetValueOrDefault(from) is not { } entered)
                    {
                        return new Invalid("from_phase", $"'{from}' never ran in this run, so it has no base commit to go back to");
                    }
                    // The later phases' work is discarded: the workspace goes back to where it stood as `from` began.
                    resetTo = entered.CommitSha;
                }
                feedback = from == run.ResumePhase ? run.ResumeFeedback : null;
                target = from;
            }
            var iteration = _iteration + 1;
            _iterationBase = _iteration;
            _resetTo = resetTo;
            Event("run.retried", target, r.Actor, new() { ["iteration"] = iteration, ["from_phase"] = target, ["reset_to"] = resetTo });
            EnterPhase(target, iteration, feedback, skipValidationBy: null);
            return Done();
        }

        private RunDecision GateTimeout(GateTimedOut g)
        {
            if (run.Status != RunStatus.AwaitingApproval || run.Wait != WaitReason.Gate || run.CurrentPhase != g.Phase || run.Iteration != g.Iteration)
            {
                return new Ignored("gate already decided");
            }
            var gate = profile.Phase(g.Phase)!.Gate ?? DefaultGate(g.Phase);
            switch (gate.OnTimeout)
            {
                case GateTimeoutAction.Approve:
                    return Approve(new ApproveRun(SystemActor, $"approved automatically: no decision within {Durations.Format(gate.Timeout)}"));
                case GateTimeoutAction.Reject:
                    return Reject(new RejectRun(SystemActor, $"rejected automatically: no decision within {Durations.Format(gate.Timeout)}", null));
                default:
                    _phases.Add(new PhaseChange(g.Phase, g.Iteration, PhaseStatus.Cancelled) { Finished = true, GateStatus = "expired", GateActor = SystemActor });
                    _status = RunStatus.Expired;
                    _wait = null;
                    _clearJobs = true;
                    Event("gate.expired", g.Phase, SystemActor, new() { ["timeout"] = Durations.Format(gate.Timeout) });
                    Event("run.expired", g.Phase, SystemActor);
                    return Done();
            }
        }

        private RunDecision External(ExternalReport e)
        {
            var phase = profile.Phase(e.Phase);
            if (phase is null)
            {
                return new Invalid("current_step", $"'{e.Phase}' is not a phase of profile {profile.Name}");
            }
            if (run.Status != RunStatus.Running || run.Wait != WaitReason.External || run.CurrentPhase != e.Phase)
            {
                return new Refused(run.Wait == WaitReason.External
                    ? $"the current external phase is '{run.CurrentPhase}', not '{e.Phase}'"
                    : $"run is {run.Status.Wire()} at phase '{run.CurrentPhase}', which is not an external phase waiting for a report");
            }
            return e.Status switch
            {
                PhaseStatus.Completed => Succeeded(new PhaseSucceeded(e.Phase, run.Iteration, [])),
                PhaseStatus.Failed => Failed(new PhaseFailed(e.Phase, run.Iteration, $"reported failed by {e.Actor}")),
                PhaseStatus.Running => new Ignored("already running"),
                _ => new Invalid("status", "status must be running, completed or failed"),
            };
        }

        private RunDecision Remind(GateReminderDue r)
        {
            if (run.Status != RunStatus.AwaitingApproval || run.Wait != WaitReason.Gate || run.CurrentPhase != r.Phase || run.Iteration != r.Iteration
                || profile.Phase(r.Phase)?.Gate is not { RemindAfter: { } every })
            {
                return new Ignored("gate already decided");
            }
            var approvals = run.Gate?.Votes.Count(v => v.Decision == GateVote.Approved) ?? 0;
            Event("gate.reminded", r.Phase, SystemActor, new() { ["approvals"] = approvals, ["remind_after"] = Durations.Format(every) });
            _jobs.Add(new JobRequest(JobRequest.RemindGate, r.Phase, r.Iteration, now + every));
            return Done();
        }

        private static GateDefinition DefaultGate(string phase) => new(GateDefinition.DefaultTimeout, GateTimeoutAction.Expire, [phase]);

        private static Refused? MayNotDecide(GateDefinition gate, GateDecider by, OpenGateState open, string verb) =>
            WhyNot(gate, by, open.CreatedByKey, verb) is { } reason ? new Refused(reason) { Forbidden = true } : null;

        /// <summary>409 with the current digest when the decision was made on something that has changed since.</summary>
        private static Refused? StaleDigest(string? digest, OpenGateState open) =>
            digest is null || digest == open.Digest ? null
                : new Refused($"digest '{digest}' is stale: what waits at the gate now has digest '{open.Digest}'; review it again and decide on that") { CurrentDigest = open.Digest };

        /// <summary>The form's values checked against its fields: the values as JSON when they are right, else a field error each.</summary>
        private static string? CheckInputs(GateDefinition gate, IReadOnlyDictionary<string, JsonElement>? inputs, out Dictionary<string, string[]> errors)
        {
            errors = [];
            var given = inputs ?? new Dictionary<string, JsonElement>();
            foreach (var (name, value) in given)
            {
                var field = gate.Inputs.FirstOrDefault(i => i.Name == name);
                var error = field is null
                    ? gate.Inputs.Count == 0 ? "this gate has no inputs" : $"unknown input; the gate's inputs are: {string.Join(", ", gate.Inputs.Select(i => i.Name))}"
                    : GateForms.Check(field, value);
                if (error is not null)
                {
                    errors[$"inputs.{name}"] = [$"{name}: {error}"];
                }
            }
            foreach (var missing in gate.Inputs.Where(i => i.Required && (!given.TryGetValue(i.Name, out var v) || v.ValueKind == JsonValueKind.Null)))
            {
                errors.TryAdd($"inputs.{missing.Name}", [$"{missing.Name}: required{(missing.Description is { } d ? $" ({d})" : "")}"]);
            }
            return errors.Count > 0 || given.Count == 0 ? null
                : JsonSerializer.Serialize(given.Where(g => g.Value.ValueKind != JsonValueKind.Null).ToDictionary(g => g.Key, g => g.Value));
        }

        private bool IsWorkingOn(string phase, int iteration) =>
            run.Status == RunStatus.Running && run.CurrentPhase == phase && run.Iteration == iteration && run.Wait is null or WaitReason.External;

        /// <summary>The phase's output passed its checks (or they were skipped): open its gate, pause, or move on.</summary>
        private void AcceptOutput(PhaseDefinition phase, int iteration, bool humanGoAhead, string? validationSkippedBy = null)
        {
            if (phase.Gate is { } gate)
            {
                var deadline = now + gate.Timeout;
                _phases.Add(new PhaseChange(phase.Name, iteration, PhaseStatus.AwaitingApproval)
                {
                    GateStatus = "pending",
                    GateDeadline = deadline,
                    ValidationSkippedBy = validationSkippedBy,
                });
                _status = RunStatus.AwaitingApproval;
                _wait = WaitReason.Gate;
                _jobs.Add(new JobRequest(JobRequest.ExpireGate, phase.Name, iteration, deadline));
                if (gate.RemindAfter is { } remind && now + remind < deadline)
                {
                    _jobs.Add(new JobRequest(JobRequest.RemindGate, phase.Name, iteration, now + remind));
                }
                Event("gate.opened", phase.Name, data: new() { ["deadline"] = deadline, ["reject_to"] = gate.RejectTo });
                return;
            }
            _phases.Add(new PhaseChange(phase.Name, iteration, PhaseStatus.Completed) { Finished = true, ValidationSkippedBy = validationSkippedBy });
            Event("phase.completed", phase.Name);
            AfterAccepted(phase, humanGoAhead);
        }

        private void AfterAccepted(PhaseDefinition phase, bool humanGoAhead)
        {
            var next = profile.After(phase.Name);
            if (next is null)
            {
                Complete();
            }
            else if (run.Mode == RunMode.Manual && !humanGoAhead)
            {
                Pause(WaitReason.Manual, null);
            }
            else
            {
                EnterPhase(next.Name, _iteration, feedback: null, skipValidationBy: null);
            }
        }

        private void FailurePath(PhaseDefinition phase, string reason)
        {
            if (phase.RetryFrom is { } target)
            {
                LoopBack(target, $"The {phase.Name} phase's {reason}. Fix this and try again.");
            }
            else
            {
                Fail($"phase {phase.Name}: {reason}");
            }
        }

        private void LoopBack(string target, string feedback)
        {
            var iteration = _iteration + 1;
            if (iteration - _iterationBase > profile.MaxIterations)
            {
                Fail($"max_iterations ({profile.MaxIterations}) reached");
                _resumePhase = target;
                _resumeFeedback = feedback;
                return;
            }
            Event("run.iteration_started", target, data: new() { ["iteration"] = iteration, ["feedback"] = feedback });
            EnterPhase(target, iteration, feedback, skipValidationBy: null);
        }

        private void EnterPhase(string name, int iteration, string? feedback, string? skipValidationBy)
        {
            _current = name;
            _iteration = iteration;
            if (BudgetWouldBeExceeded(run with { BudgetApproved = _budgetApproved }))
            {
                _phases.Add(new PhaseChange(name, iteration, PhaseStatus.Pending) { Feedback = feedback, ValidationSkippedBy = skipValidationBy });
                _status = RunStatus.AwaitingApproval;
                _wait = WaitReason.Budget;
                Event("run.budget_stopped", name, data: new() { ["cost_usd"] = run.CostUsd, ["budget_usd"] = run.BudgetUsd, ["cost_unknown"] = run.CostUnknown });
                return;
            }
            StartPhase(profile.Phase(name)!, iteration, feedback, skipValidationBy);
        }

        private void StartPhase(PhaseDefinition phase, int iteration, string? feedback, string? skipValidationBy)
        {
            _status = RunStatus.Running;
            _error = null;
            if (phase.IsExternal)
            {
                _wait = WaitReason.External;
                _phases.Add(new PhaseChange(phase.Name, iteration, PhaseStatus.Running) { Feedback = feedback, Started = true, ValidationSkippedBy = skipValidationBy });
                Event("phase.started", phase.Name, data: new() { ["worker"] = phase.Worker });
                return;
            }
            _wait = null;
            _phases.Add(new PhaseChange(phase.Name, iteration, PhaseStatus.Pending) { Feedback = feedback, ValidationSkippedBy = skipValidationBy });
            _jobs.Add(new JobRequest(JobRequest.ExecutePhase, phase.Name, iteration, now, phase.Worker));
        }

        private void Pause(WaitReason why, string? error)
        {
            _status = RunStatus.Paused;
            _wait = why;
            _error = error;
            Event("run.paused", _current, data: new() { ["reason"] = why.Wire() });
        }

        private void Complete()
        {
            _status = RunStatus.Completed;
            _wait = null;
            _clearJobs = true;
            Event("run.completed", _current);
        }

        private void Fail(string reason)
        {
            _status = RunStatus.Failed;
            _wait = null;
            _error = reason;
            _clearJobs = true;
            Event("run.failed", _current, data: new() { ["error"] = reason });
        }

        private void Event(string type, string? phase, string? actor = null, Dictionary<string, object?>? data = null) =>
            _events.Add(new RunEvent(type, phase, _iteration, actor, data));

        private Transition Done() =>
            new(_status, _current, _iteration, _wait, _error, _budgetApproved, _iterationBase, _resumePhase, _resumeFeedback,
                _phases, _jobs, _clearJobs, _cancelOpen, _events) { Vote = _vote, ResetWorkspaceTo = _resetTo, DecidedAt = now };
    }
}
