using Baton.Profiles;

namespace Baton.Runs;

/// <summary>A row of `runs`, as Dapper reads it.</summary>
public sealed class RunRow
{
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
    public string Intake { get; set; } = "";
    public double? BudgetUsd { get; set; }
    public bool BudgetApproved { get; set; }
    public double CostUsd { get; set; }
    public long TokensUsed { get; set; }
    public string? IdempotencyKey { get; set; }
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

    public RunStatus RunStatus => StateNames.Parse<RunStatus>(Status);

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
        ResumeFeedback);
}
