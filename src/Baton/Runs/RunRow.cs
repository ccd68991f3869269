using System.Data;
using Baton.Profiles;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// A row of `runs`: small columns only. The intake lives in `run_intakes` (<see cref="RunIntakes"/>),
/// read only where it is shown or used.
/// </summary>
public sealed class RunRow
{
    /// <summary>The columns of a <see cref="RunRow"/>, named, so that a load reads these and nothing added later.</summary>
    public const string Columns =
        "id, profile, profile_hash, project_name, status, mode, current_phase, iteration, wait_reason, error, budget_usd, " +
        "budget_approved, cost_usd, tokens_used, request_hash, created_by, created_at, updated_at, completed_at, version, " +
        "iteration_base, resume_phase, resume_feedback, repository_id, cost_unknown, trace_parent, parent_run_id, forked_at_phase, fork_commit";

    public string Id { get; set; } = "";
    public string Profile { get; set; } = "";
    public string ProfileHash { get; set; } = "";
    public string? ProjectName { get; set; }
    public string Status { get; set; } = "";
    public string Mode { get; set; } = "";
    public string? CurrentPhase { get; set; }
    public int Iteration { get; set; }
    public string? WaitReason { get; set; }
    public string? Error { get; set; }
    public double? BudgetUsd { get; set; }
    public bool BudgetApproved { get; set; }
    public double CostUsd { get; set; }

    /// <summary>An execution's cost was unknown (ADR 28): <see cref="CostUsd"/> is only the known part.</summary>
    public bool CostUnknown { get; set; }
    public long TokensUsed { get; set; }
    public string? RequestHash { get; set; }
    public string? CreatedBy { get; set; }
    public long CreatedAt { get; set; }
    public long UpdatedAt { get; set; }
    public long? CompletedAt { get; set; }
    public long Version { get; set; }
    public int IterationBase { get; set; }
    public string? ResumePhase { get; set; }
    public string? ResumeFeedback { get; set; }
    public string? RepositoryId { get; set; }

    /// <summary>The W3C trace context of the request that created the run: the parent of its phases' spans (ADR 33).</summary>
    public string? TraceParent { get; set; }

    /// <summary>A fork's: the run it was forked from, the phase it started at, and the commit its branch started at (ADR 38).</summary>
    public string? ParentRunId { get; set; }

    public string? ForkedAtPhase { get; set; }

    public string? ForkCommit { get; set; }

    public RunStatus RunStatus => StateNames.Parse<RunStatus>(Status);

    /// <summary>
    /// The row at <paramref name="r"/>'s current position, its columns in the order of <see cref="Columns"/>: read by
    /// hand, as the runs list is, because Dapper looks up its mapping by every column's name and type on each query,
    /// which Microsoft.Data.Sqlite answers by parsing the declared type (it showed in a run detail's profile).
    /// </summary>
    public static RunRow Read(IDataRecord r) => new()
    {
        Id = r.GetString(0),
        Profile = r.GetString(1),
        ProfileHash = r.GetString(2),
        ProjectName = r.GetNullableString(3),
        Status = r.GetString(4),
        Mode = r.GetString(5),
        CurrentPhase = r.GetNullableString(6),
        Iteration = r.GetInt32(7),
        WaitReason = r.GetNullableString(8),
        Error = r.GetNullableString(9),
        BudgetUsd = r.IsDBNull(10) ? null : r.GetDouble(10),
        BudgetApproved = r.GetBoolean(11),
        CostUsd = r.GetDouble(12),
        TokensUsed = r.GetInt64(13),
        RequestHash = r.GetNullableString(14),
        CreatedBy = r.GetNullableString(15),
        CreatedAt = r.GetInt64(16),
        UpdatedAt = r.GetInt64(17),
        CompletedAt = r.GetNullableInt64(18),
        Version = r.GetInt64(19),
        IterationBase = r.GetInt32(20),
        ResumePhase = r.GetNullableString(21),
        ResumeFeedback = r.GetNullableString(22),
        RepositoryId = r.GetNullableString(23),
        CostUnknown = r.GetBoolean(24),
        TraceParent = r.GetNullableString(25),
        ParentRunId = r.GetNullableString(26),
        ForkedAtPhase = r.GetNullableString(27),
        ForkCommit = r.GetNullableString(28),
    };

    /// <summary>The row as <see cref="RunTransitions"/> leaves it after <paramref name="t"/>: what a reload would read, without one.</summary>
    public RunRow After(Transition t, long nowMs)
    {
        var after = (RunRow)MemberwiseClone();
        after.Status = t.Status.Wire();
        after.CurrentPhase = t.CurrentPhase;
        after.Iteration = t.Iteration;
        after.WaitReason = t.Wait?.Wire();
        after.Error = t.Error;
        after.BudgetApproved = t.BudgetApproved;
        after.IterationBase = t.IterationBase;
        after.ResumePhase = t.ResumePhase;
        after.ResumeFeedback = t.ResumeFeedback;
        after.UpdatedAt = nowMs;
        after.CompletedAt = t.Status.IsTerminal() ? nowMs : null;
        after.Version = Version + 1;
        return after;
    }

    public RunState ToState(int succeededExecutions) => new(
        RunStatus,
        StateNames.Parse<RunMode>(Mode),
        CurrentPhase,
        Iteration,
        WaitReason is null ? null : StateNames.Parse<WaitReason>(WaitReason),
        (decimal)CostUsd,
        BudgetUsd is { } b ? (decimal)b : null,
        BudgetApproved,
        succeededExecutions,
        IterationBase,
        ResumePhase,
        ResumeFeedback,
        CostUnknown);
}
