using Baton.Profiles;
using Baton.Runs;

namespace Baton.Tests.Runs;

public class RunDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private static readonly Profile Delivery = Parse("""
        name: delivery
        max_iterations: 3
        phases:
          - name: discovery
            produces: [prd.md]
          - name: design
            produces: [spec.md]
            gate:
              timeout: 2h
              reject_to: [design, discovery]
          - name: test
            produces: [report.md]
            on_failure:
              retry_from: discovery
          - name: document
            produces: [docs.md]
        """);

    private static Profile Parse(string yaml)
    {
        var (profile, errors) = ProfileParser.Parse(yaml, "test.yaml");
        Assert.Empty(errors);
        return profile!;
    }

    private static RunState State(RunStatus status, string? phase = "design", int iteration = 1, WaitReason? wait = null, RunMode mode = RunMode.Auto) =>
        new(status, mode, phase, iteration, wait, 0m, null, false, 0);

    private static Transition Accepts(RunState state, RunTrigger trigger, Profile? profile = null) =>
        Assert.IsType<Transition>(RunDecider.Decide(state, profile ?? Delivery, trigger, Now));

    private static RunState Waiting(RunStatus status) => status switch
    {
        RunStatus.AwaitingApproval => State(status, wait: WaitReason.Gate),
        RunStatus.Paused => State(status, wait: WaitReason.Manual, mode: RunMode.Manual),
        _ => State(status),
    };

    public static TheoryData<RunStatus, string, string> Matrix()
    {
        // For every status and every human trigger: what the decider says. T = transition, R = refused (409).
        var data = new TheoryData<RunStatus, string, string>();
        var expected = new Dictionary<RunStatus, string>
        {
            // order: start, approve, reject, next, cancel, retry
            [RunStatus.Pending] = "T R R R T R",
            [RunStatus.Running] = "R R R R T R",
            [RunStatus.AwaitingApproval] = "R T T R T R",
            [RunStatus.Paused] = "R R R T T R",
            [RunStatus.Completed] = "R R R R R R",
            [RunStatus.Failed] = "R R R R R T",
            [RunStatus.Cancelled] = "R R R R R T",
            [RunStatus.Expired] = "R R R R R R",
        };
        string[] triggers = ["start", "approve", "reject", "next", "cancel", "retry"];
        foreach (var (status, outcomes) in expected)
        {
            var each = outcomes.Split(' ');
            for (var i = 0; i < triggers.Length; i++)
            {
                data.Add(status, triggers[i], each[i]);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Every_status_and_trigger_is_decided(RunStatus status, string trigger, string expected)
    {
        RunTrigger t = trigger switch
        {
            "start" => new StartRun(),
            "approve" => new ApproveRun("ann", null),
            "reject" => new RejectRun("ann", "redo", null),
            "next" => new NextPhase("ann", false),
            "cancel" => new CancelRun("ann", null),
            _ => new RetryRun("ann"),
        };
        var decision = RunDecider.Decide(Waiting(status), Delivery, t, Now);
        if (expected == "T")
        {
            Assert.IsType<Transition>(decision);
        }
        else
        {
            var refused = Assert.IsType<Refused>(decision);
            Assert.Contains(status.Wire(), refused.Reason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(RunStatus.Pending)]
    [InlineData(RunStatus.AwaitingApproval)]
    [InlineData(RunStatus.Paused)]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Cancelled)]
    [InlineData(RunStatus.Expired)]
    public void Phase_results_for_a_run_that_is_not_running_that_phase_are_ignored(RunStatus status)
    {
        Assert.IsType<Ignored>(RunDecider.Decide(Waiting(status), Delivery, new PhaseSucceeded("design", 1, []), Now));
        Assert.IsType<Ignored>(RunDecider.Decide(Waiting(status), Delivery, new PhaseFailed("design", 1, "x"), Now));
    }

    [Fact]
    public void Results_of_an_older_iteration_are_ignored()
    {
        Assert.IsType<Ignored>(RunDecider.Decide(State(RunStatus.Running, "design", 2), Delivery, new PhaseSucceeded("design", 1, []), Now));
        Assert.IsType<Ignored>(RunDecider.Decide(State(RunStatus.Running, "test", 1), Delivery, new PhaseSucceeded("design", 1, []), Now));
    }

    [Fact]
    public void Start_queues_the_first_phase()
    {
        var t = Accepts(State(RunStatus.Pending, null), new StartRun());
        Assert.Equal(RunStatus.Running, t.Status);
        Assert.Equal("discovery", t.CurrentPhase);
        var job = Assert.Single(t.Jobs);
        Assert.Equal((JobRequest.ExecutePhase, "discovery", 1, Now), (job.Kind, job.Phase, job.Iteration, job.RunAt));
    }

    [Fact]
    public void A_phase_without_gate_moves_on_to_the_next()
    {
        var t = Accepts(State(RunStatus.Running, "discovery"), new PhaseSucceeded("discovery", 1, []));
        Assert.Equal(("design", RunStatus.Running), (t.CurrentPhase, t.Status));
        Assert.Contains(t.Phases, p => p is { Phase: "discovery", Status: PhaseStatus.Completed, Finished: true });
        Assert.Equal("design", Assert.Single(t.Jobs).Phase);
        Assert.Contains(t.Events, e => e.Type == "phase.completed" && e.Phase == "discovery");
    }

    [Fact]
    public void A_gated_phase_waits_for_approval_with_a_deadline()
    {
        var t = Accepts(State(RunStatus.Running, "design"), new PhaseSucceeded("design", 1, []));
        Assert.Equal((RunStatus.AwaitingApproval, WaitReason.Gate), (t.Status, t.Wait));
        var job = Assert.Single(t.Jobs);
        Assert.Equal((JobRequest.ExpireGate, Now + TimeSpan.FromHours(2)), (job.Kind, job.RunAt));
        Assert.Contains(t.Phases, p => p is { Phase: "design", Status: PhaseStatus.AwaitingApproval, GateStatus: "pending" });
        Assert.DoesNotContain(t.Events, e => e.Type == "phase.completed");
    }

    [Fact]
    public void Approve_completes_the_gated_phase_and_records_who()
    {
        var t = Accepts(State(RunStatus.AwaitingApproval, wait: WaitReason.Gate), new ApproveRun("ann", "ok"));
        Assert.Equal(("test", RunStatus.Running), (t.CurrentPhase, t.Status));
        Assert.Contains(t.Phases, p => p is { Phase: "design", Status: PhaseStatus.Completed, GateStatus: "approved", GateActor: "ann", GateComment: "ok" });
        Assert.Contains(t.Events, e => e.Type == "gate.approved" && e.Actor == "ann");
    }

    [Fact]
    public void Reject_starts_a_new_iteration_of_the_target_with_the_feedback()
    {
        var t = Accepts(State(RunStatus.AwaitingApproval, wait: WaitReason.Gate), new RejectRun("ann", "cover errors", "discovery"));
        Assert.Equal(("discovery", 2, RunStatus.Running), (t.CurrentPhase, t.Iteration, t.Status));
        Assert.Contains(t.Phases, p => p is { Phase: "discovery", Iteration: 2, Feedback: "cover errors" });
        Assert.Contains(t.Phases, p => p is { Phase: "design", Iteration: 1, GateStatus: "rejected" });
        var job = Assert.Single(t.Jobs);
        Assert.Equal(("discovery", 2), (job.Phase, job.Iteration));
    }

    [Fact]
    public void Reject_defaults_to_the_first_allowed_target()
    {
        var t = Accepts(State(RunStatus.AwaitingApproval, wait: WaitReason.Gate), new RejectRun("ann", "again", null));
        Assert.Equal(("design", 2), (t.CurrentPhase, t.Iteration));
    }

    [Fact]
    public void Reject_to_a_phase_the_gate_does_not_allow_is_invalid()
    {
        var decision = RunDecider.Decide(State(RunStatus.AwaitingApproval, wait: WaitReason.Gate), Delivery, new RejectRun("ann", "x", "document"), Now);
        Assert.Equal("reject_to", Assert.IsType<Invalid>(decision).Field);
    }

    [Fact]
    public void Rejecting_past_max_iterations_fails_the_run()
    {
        var t = Accepts(State(RunStatus.AwaitingApproval, iteration: 3, wait: WaitReason.Gate), new RejectRun("ann", "no", null));
        Assert.Equal(RunStatus.Failed, t.Status);
        Assert.Contains("max_iterations (3)", t.Error, StringComparison.Ordinal);
        Assert.True(t.ClearJobs);
    }

    [Fact]
    public void Failed_checks_loop_back_to_retry_from()
    {
        var t = Accepts(State(RunStatus.Running, "test"), new PhaseSucceeded("test", 1, ["report.md is empty"]));
        Assert.Equal(("discovery", 2, RunStatus.Running), (t.CurrentPhase, t.Iteration, t.Status));
        Assert.Contains(t.Phases, p => p is { Phase: "test", Iteration: 1, Status: PhaseStatus.Failed });
        Assert.Contains(t.Phases, p => p.Phase == "discovery" && p.Feedback!.Contains("report.md is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void Failed_checks_without_retry_from_fail_the_run()
    {
        var t = Accepts(State(RunStatus.Running, "discovery"), new PhaseSucceeded("discovery", 1, ["prd.md is empty"]));
        Assert.Equal(RunStatus.Failed, t.Status);
        Assert.Contains("prd.md is empty", t.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_agent_failure_fails_the_phase_and_the_run()
    {
        var t = Accepts(State(RunStatus.Running, "discovery"), new PhaseFailed("discovery", 1, "boom"));
        Assert.Equal(RunStatus.Failed, t.Status);
        Assert.Contains(t.Phases, p => p is { Phase: "discovery", Status: PhaseStatus.Failed, Error: "boom" });
    }

    [Fact]
    public void The_last_phase_completes_the_run()
    {
        var t = Accepts(State(RunStatus.Running, "document"), new PhaseSucceeded("document", 1, []));
        Assert.Equal(RunStatus.Completed, t.Status);
        Assert.Contains(t.Events, e => e.Type == "run.completed");
    }

    [Fact]
    public void Manual_mode_pauses_after_each_phase_until_next()
    {
        var paused = Accepts(State(RunStatus.Running, "discovery", mode: RunMode.Manual), new PhaseSucceeded("discovery", 1, []));
        Assert.Equal((RunStatus.Paused, WaitReason.Manual), (paused.Status, paused.Wait));
        Assert.Empty(paused.Jobs);

        var next = Accepts(State(RunStatus.Paused, "discovery", wait: WaitReason.Manual, mode: RunMode.Manual), new NextPhase("ann", false));
        Assert.Equal(("design", RunStatus.Running), (next.CurrentPhase, next.Status));
        Assert.Single(next.Jobs);
    }

    [Fact]
    public void Manual_mode_with_failed_checks_pauses_and_skip_validation_goes_on_recording_who()
    {
        var paused = Accepts(State(RunStatus.Running, "discovery", mode: RunMode.Manual), new PhaseSucceeded("discovery", 1, ["prd.md is empty"]));
        Assert.Equal((RunStatus.Paused, WaitReason.ChecksFailed), (paused.Status, paused.Wait));

        var state = State(RunStatus.Paused, "discovery", wait: WaitReason.ChecksFailed, mode: RunMode.Manual);
        var skipped = Accepts(state, new NextPhase("ann", true));
        Assert.Equal(("design", RunStatus.Running), (skipped.CurrentPhase, skipped.Status));
        Assert.Contains(skipped.Phases, p => p is { Phase: "discovery", Status: PhaseStatus.Completed, ValidationSkippedBy: "ann" });
        Assert.Contains(skipped.Events, e => e.Type == "validation.skipped" && e.Actor == "ann");

        var strict = Accepts(state, new NextPhase("ann", false));
        Assert.Equal(RunStatus.Failed, strict.Status);
    }

    [Fact]
    public void Next_with_skip_validation_marks_the_next_phase_to_skip_its_checks()
    {
        var t = Accepts(State(RunStatus.Paused, "discovery", wait: WaitReason.Manual, mode: RunMode.Manual), new NextPhase("ann", true));
        Assert.Contains(t.Phases, p => p is { Phase: "design", ValidationSkippedBy: "ann" });
    }

    [Fact]
    public void Approve_in_manual_mode_is_the_go_ahead_for_the_next_phase()
    {
        var t = Accepts(State(RunStatus.AwaitingApproval, wait: WaitReason.Gate, mode: RunMode.Manual), new ApproveRun("ann", null));
        Assert.Equal(("test", RunStatus.Running), (t.CurrentPhase, t.Status));
    }

    [Theory]
    [InlineData(RunStatus.Pending)]
    [InlineData(RunStatus.Running)]
    [InlineData(RunStatus.AwaitingApproval)]
    [InlineData(RunStatus.Paused)]
    public void Cancel_stops_everything_open(RunStatus status)
    {
        var t = Accepts(Waiting(status), new CancelRun("ann", "wrong intake"));
        Assert.Equal(RunStatus.Cancelled, t.Status);
        Assert.True(t.ClearJobs && t.CancelOpenPhases);
        Assert.Contains(t.Events, e => e.Type == "run.cancelled" && e.Actor == "ann");
    }

    [Fact]
    public void Retry_runs_the_failed_phase_again_in_a_new_iteration()
    {
        var t = Accepts(State(RunStatus.Failed, "test", 3), new RetryRun("ann"));
        Assert.Equal(("test", 4, RunStatus.Running), (t.CurrentPhase, t.Iteration, t.Status));
        var job = Assert.Single(t.Jobs);
        Assert.Equal(("test", 4), (job.Phase, job.Iteration));
    }

    [Fact]
    public void A_run_stopped_by_max_iterations_retries_where_its_loop_was_going_with_the_feedback()
    {
        var failed = Accepts(State(RunStatus.AwaitingApproval, iteration: 3, wait: WaitReason.Gate), new RejectRun("ann", "cover errors", "discovery"));
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal(("discovery", "cover errors"), (failed.ResumePhase, failed.ResumeFeedback));

        var state = State(RunStatus.Failed, "design", 3) with { ResumePhase = "discovery", ResumeFeedback = "cover errors" };
        var retried = Accepts(state, new RetryRun("bob"));
        Assert.Equal(("discovery", 4, 3), (retried.CurrentPhase, retried.Iteration, retried.IterationBase));
        Assert.Contains(retried.Phases, p => p is { Phase: "discovery", Iteration: 4, Feedback: "cover errors" });
        Assert.Null(retried.ResumePhase);
    }

    private static IReadOnlyDictionary<string, PhaseBase> Bases(params (string Phase, int Iteration, string? Commit)[] phases) =>
        phases.ToDictionary(p => p.Phase, p => new PhaseBase { Phase = p.Phase, Iteration = p.Iteration, CommitSha = p.Commit });

    [Fact]
    public void A_retry_from_an_earlier_phase_resets_to_its_base_commit_and_enters_it_as_a_new_iteration()
    {
        var state = State(RunStatus.Failed, "test", 2) with { PhaseBases = Bases(("discovery", 2, "c-disc"), ("design", 2, "c-design"), ("test", 2, "c-test")) };
        var t = Accepts(state, new RetryRun("ann", "design"));
        Assert.Equal(("design", 3, 2, "c-design"), (t.CurrentPhase, t.Iteration, t.IterationBase, t.ResetWorkspaceTo));
        Assert.Contains(t.Phases, p => p is { Phase: "design", Iteration: 3, Feedback: null });
        var retried = Assert.Single(t.Events, e => e.Type == "run.retried");
        Assert.Equal(("design", "c-design"), (retried.Data!["from_phase"], retried.Data!["reset_to"]));

        // The phase where it stopped, named or not, goes on from the workspace as it is (no reset); so does a run
        // without a repository (no base commit).
        Assert.Null(Accepts(state, new RetryRun("ann", "test")).ResetWorkspaceTo);
        Assert.Null(Accepts(state, new RetryRun("ann")).ResetWorkspaceTo);
        Assert.Null(Accepts(state with { PhaseBases = Bases(("discovery", 1, null)) }, new RetryRun("ann", "discovery")).ResetWorkspaceTo);
    }

    [Theory]
    [InlineData("nope", "'nope' is not a phase of profile delivery")]
    [InlineData("document", "'document' comes after 'test', where the run stopped")]
    [InlineData("design", "'design' never ran in this run")]
    public void A_retry_from_a_phase_it_cannot_go_back_to_is_invalid(string from, string reason)
    {
        var state = State(RunStatus.Failed, "test", 1) with { PhaseBases = Bases(("discovery", 1, "c")) };
        var invalid = Assert.IsType<Invalid>(RunDecider.Decide(state, Delivery, new RetryRun("ann", from), Now));
        Assert.Equal("from_phase", invalid.Field);
        Assert.Contains(reason, invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fork_starts_at_its_phase_in_the_parent_iteration_with_max_iterations_afresh()
    {
        var t = Accepts(State(RunStatus.Pending, null), new StartRun("test", 3));
        Assert.Equal(("test", 3, 2, RunStatus.Running), (t.CurrentPhase, t.Iteration, t.IterationBase, t.Status));
        var job = Assert.Single(t.Jobs);
        Assert.Equal(("test", 3), (job.Phase, job.Iteration));
    }

    [Fact]
    public void After_a_retry_max_iterations_counts_afresh()
    {
        var state = State(RunStatus.AwaitingApproval, iteration: 4, wait: WaitReason.Gate) with { IterationBase = 3 };
        var t = Accepts(state, new RejectRun("ann", "again", null));
        Assert.Equal((RunStatus.Running, 5), (t.Status, t.Iteration));
        Assert.Equal(RunStatus.Failed, Accepts(state with { Iteration = 6 }, new RejectRun("ann", "again", null)).Status);
    }

    [Fact]
    public void Deciding_a_gate_removes_its_expiry_job()
    {
        var gate = State(RunStatus.AwaitingApproval, wait: WaitReason.Gate);
        Assert.True(Accepts(gate, new ApproveRun("ann", null)).ClearJobs);
        Assert.True(Accepts(gate, new RejectRun("ann", "x", null)).ClearJobs);
    }

    [Theory]
    [InlineData("expire", RunStatus.Expired)]
    [InlineData("approve", RunStatus.Running)]
    [InlineData("reject", RunStatus.Running)]
    public void A_gate_timeout_does_what_the_profile_says(string onTimeout, RunStatus expected)
    {
        var profile = Parse(Support.TestProfiles.Gated.Replace("OUTCOME", onTimeout, StringComparison.Ordinal));
        var state = State(RunStatus.AwaitingApproval, "draft", wait: WaitReason.Gate);
        var t = Accepts(state, new GateTimedOut("draft", 1), profile);
        Assert.Equal(expected, t.Status);
        var phase = onTimeout switch { "approve" => ("publish", 1), "reject" => ("draft", 2), _ => ("draft", 1) };
        Assert.Equal(phase, (t.CurrentPhase, t.Iteration));
        Assert.All(t.Events.Where(e => e.Actor is not null), e => Assert.Equal(RunDecider.SystemActor, e.Actor));
    }

    [Fact]
    public void A_gate_timeout_after_the_gate_was_decided_is_ignored()
    {
        Assert.IsType<Ignored>(RunDecider.Decide(State(RunStatus.Running, "test"), Delivery, new GateTimedOut("design", 1), Now));
        Assert.IsType<Ignored>(RunDecider.Decide(State(RunStatus.AwaitingApproval, "design", 2, WaitReason.Gate), Delivery, new GateTimedOut("design", 1), Now));
    }

    [Fact]
    public void The_budget_stops_a_run_before_a_phase_that_would_exceed_it()
    {
        // $0.40 spent over two phases: the next one is expected to cost $0.20, which would pass the $0.50 budget.
        var state = new RunState(RunStatus.Running, RunMode.Auto, "discovery", 1, null, 0.40m, 0.50m, false, 2);
        var t = Accepts(state, new PhaseSucceeded("discovery", 1, []));
        Assert.Equal((RunStatus.AwaitingApproval, WaitReason.Budget, "design"), (t.Status, t.Wait, t.CurrentPhase));
        Assert.Empty(t.Jobs);

        var approved = Accepts(state with { Status = RunStatus.AwaitingApproval, Wait = WaitReason.Budget, CurrentPhase = "design" }, new ApproveRun("ann", "worth it"));
        Assert.True(approved.BudgetApproved);
        Assert.Equal((RunStatus.Running, "design"), (approved.Status, approved.CurrentPhase));
        Assert.Single(approved.Jobs);
    }

    [Theory]
    [InlineData(0.10, 0.50, 2, false)]
    [InlineData(0.40, 0.50, 2, true)]
    [InlineData(0.00, 0.00, 0, false)]
    [InlineData(0.60, 0.50, 1, true)]
    public void Budget_projection(double spent, double budget, int phases, bool stops)
    {
        var state = new RunState(RunStatus.Running, RunMode.Auto, "x", 1, null, (decimal)spent, (decimal)budget, false, phases);
        Assert.Equal(stops, RunDecider.BudgetWouldBeExceeded(state));
        Assert.False(RunDecider.BudgetWouldBeExceeded(state with { BudgetApproved = true }));
        Assert.False(RunDecider.BudgetWouldBeExceeded(state with { BudgetUsd = null }));
    }

    [Fact]
    public void An_unknown_spend_stops_a_budgeted_run_until_a_human_approves_it()
    {
        var state = new RunState(RunStatus.Running, RunMode.Auto, "x", 1, null, 0m, 5m, false, 1, CostUnknown: true);
        Assert.True(RunDecider.BudgetWouldBeExceeded(state));
        Assert.False(RunDecider.BudgetWouldBeExceeded(state with { BudgetApproved = true }));
        Assert.False(RunDecider.BudgetWouldBeExceeded(state with { BudgetUsd = null }));
        Assert.False(RunDecider.BudgetWouldBeExceeded(state with { CostUnknown = false }));
    }

    [Fact]
    public void A_budget_stop_cannot_be_rejected()
    {
        var state = State(RunStatus.AwaitingApproval, wait: WaitReason.Budget);
        Assert.IsType<Refused>(RunDecider.Decide(state, Delivery, new RejectRun("ann", "x", null), Now));
    }

    [Fact]
    public void External_phases_wait_for_reports()
    {
        var profile = Parse(Support.TestProfiles.External);
        var entered = Accepts(State(RunStatus.Running, "plan"), new PhaseSucceeded("plan", 1, []), profile);
        Assert.Equal(("build", WaitReason.External), (entered.CurrentPhase, entered.Wait));
        Assert.Empty(entered.Jobs);

        var waiting = State(RunStatus.Running, "build", wait: WaitReason.External);
        Assert.IsType<Ignored>(RunDecider.Decide(waiting, profile, new ExternalReport("ci", "build", PhaseStatus.Running), Now));
        Assert.Equal("wrap", Accepts(waiting, new ExternalReport("ci", "build", PhaseStatus.Completed), profile).CurrentPhase);
        Assert.Equal(RunStatus.Failed, Accepts(waiting, new ExternalReport("ci", "build", PhaseStatus.Failed), profile).Status);
        Assert.IsType<Refused>(RunDecider.Decide(waiting, profile, new ExternalReport("ci", "plan", PhaseStatus.Completed), Now));
        Assert.IsType<Invalid>(RunDecider.Decide(waiting, profile, new ExternalReport("ci", "nope", PhaseStatus.Completed), Now));
        Assert.IsType<Refused>(RunDecider.Decide(State(RunStatus.Running, "plan"), profile, new ExternalReport("ci", "plan", PhaseStatus.Completed), Now));
    }
}
