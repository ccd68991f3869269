using System.Text.Json;

namespace Baton.Client;

// The JSON the Baton API speaks (snake_case on the wire). Request records have nullable members so the
// server can name every missing field in one 400 instead of failing on the first.

public sealed record CreateRunRequest(string? Profile, string? Intake, string? ProjectName = null, string? Mode = null, decimal? BudgetUsd = null, string? RepositoryId = null);

public sealed record UpdateRunRequest(string? ProjectName = null, string? CurrentStep = null, string? Status = null);

/// <summary>`digest`: the gate's (or paused phase's) digest as the caller reviewed it (`gate.digest`); a stale one is a 409.</summary>
public sealed record NextRequest(bool? SkipValidation = null, string? Digest = null);

/// <summary>An approval, bound to the digest reviewed (optional) and carrying the gate form's values by field name.</summary>
public sealed record ApproveRequest(string? Comment = null, string? Digest = null, IReadOnlyDictionary<string, JsonElement>? Inputs = null);

public sealed record RejectRequest(string? Feedback, string? RejectTo = null, string? Digest = null);

/// <summary>A decision recorded at a gate: who, when, their comment (or feedback), form values, and the key's groups then.</summary>
public sealed record GateVoteInfo(string By, DateTimeOffset At, string? Comment, IReadOnlyDictionary<string, JsonElement>? Inputs = null, IReadOnlyList<string>? Groups = null);

/// <summary>A field of a gate's form: string, text, number, boolean or enum (with <paramref name="Values"/>).</summary>
public sealed record GateInputInfo(string Name, string Type, bool Required, string? Description, IReadOnlyList<string>? Values);

/// <summary>A decision waiting for the caller: a gate (<paramref name="Kind"/> "gate") or a budget stop ("budget").</summary>
public sealed record InboxItem(
    string RunId,
    string Profile,
    string? ProjectName,
    string Kind,
    string Phase,
    int Iteration,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ExpiresAt,
    long AgeSeconds,
    int Approvals,
    int ApprovalsRequired,
    string? CreatedBy,
    // require_groups (ADR 39): the places still missing, by group; null when the gate requires no group.
    IReadOnlyDictionary<string, int>? MissingGroups = null);

/// <summary>GET /api/inbox: what the caller may decide now, oldest first.</summary>
public sealed record Inbox(IReadOnlyList<InboxItem> Items, int Total);

/// <summary>The gate a run waits at (`gate` of a run): its policy, the approvals so far, and what they are bound to.</summary>
public sealed record OpenGate(
    string Phase,
    int Iteration,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ExpiresAt,
    int ApprovalsRequired,
    IReadOnlyList<GateVoteInfo> Approvals,
    IReadOnlyList<GateVoteInfo> Rejections,
    string Digest,
    string? Commit,
    IReadOnlyList<GateInputInfo> Inputs,
    IReadOnlyList<string> Approvers,
    string SelfApproval,
    // require_groups (ADR 39): how many approvals each group must give, and how many of those are still missing.
    IReadOnlyDictionary<string, int>? RequiredGroups = null,
    IReadOnlyDictionary<string, int>? MissingGroups = null);

public sealed record CancelRequest(string? Reason = null);

/// <summary>A retry of a failed or cancelled run; <see cref="FromPhase"/> null goes on at the phase where it stopped (ADR 38).</summary>
public sealed record RetryRequest(string? FromPhase = null);

/// <summary>A fork of a run at one of its phases; <see cref="Intake"/> null keeps the parent's intake (ADR 38).</summary>
public sealed record ForkRunRequest(string? AtPhase, string? Intake = null);

public sealed record RunSummary(
    string RunId,
    string Profile,
    string? ProjectName,
    string Status,
    string? CurrentPhase,
    int Iteration,
    string Mode,
    string? WaitingFor,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    decimal CostUsd,
    long TokensUsed,
    // Some execution's cost is unknown: CostUsd is only the known part (ADR 28).
    bool CostUnknown = false,
    // A fork's: the run it was forked from (ADR 38).
    string? ParentRunId = null);

public sealed record RunList(IReadOnlyList<RunSummary> Runs, long Total, int Limit, int Offset);

public sealed record Approval(string Status, string? Actor, string? Comment, DateTimeOffset? DecidedAt, DateTimeOffset? Deadline);

public sealed record PhaseInfo(
    string Name,
    string Status,
    int Iteration,
    int Attempts,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    long? DurationMs,
    string? Error,
    string? Feedback,
    string? ValidationSkippedBy,
    Approval? Approval);

public sealed record RunDetail(
    string RunId,
    string Profile,
    string? ProjectName,
    string Status,
    string? CurrentPhase,
    int Iteration,
    string Mode,
    string? WaitingFor,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    decimal CostUsd,
    long TokensUsed,
    string Intake,
    string? Error,
    decimal? BudgetUsd,
    string? CreatedBy,
    DateTimeOffset? CompletedAt,
    long Version,
    IReadOnlyList<PhaseInfo> Phases,
    IReadOnlyDictionary<string, DateTimeOffset> StepTimestamps,
    // The node the run's next step waits for: its workspace (a local-path repository) is on that node's disk, and
    // the node has been gone for two lease lengths. Null otherwise, and always on a single node (SQLite).
    string? WaitingForNode = null,
    // Some execution's cost is unknown (a worker without prices): CostUsd is only the known part (ADR 28).
    bool CostUnknown = false,
    // Its agents' requests to use a tool a phase lists in tool_approvals, oldest first (ADR 31).
    IReadOnlyList<ToolApprovalInfo>? ToolApprovals = null,
    // The gate the run waits at, while one is open (ADR 32).
    OpenGate? Gate = null,
    // A fork's: the run it was forked from and the phase it started at (ADR 38).
    string? ParentRunId = null,
    string? ForkedAtPhase = null);

public sealed record ArtifactInfo(string Name, string Phase, int Iteration, long Size, string Sha256, string MediaType, DateTimeOffset CreatedAt);

public sealed record ArtifactGroup(string Phase, int Iteration, IReadOnlyList<ArtifactInfo> Artifacts);

public sealed record ArtifactManifest(string RunId, IReadOnlyList<ArtifactGroup> Phases);

public sealed record PhaseMetrics(
    string Phase,
    int Iterations,
    int Executions,
    long TokensIn,
    long TokensOut,
    decimal CostUsd,
    long DurationMs,
    int ToolCalls,
    int TestsRun,
    int TestsPassed,
    bool CostUnknown = false);

public sealed record RunMetrics(
    string RunId,
    long TokensIn,
    long TokensOut,
    long TokensUsed,
    decimal CostUsd,
    long DurationMs,
    int Executions,
    int ToolCalls,
    int TestsRun,
    int TestsPassed,
    int Iterations,
    int Approvals,
    int Rejections,
    IReadOnlyList<PhaseMetrics> Phases,
    // Some execution's cost is unknown: CostUsd is only the known part (ADR 28).
    bool CostUnknown = false,
    // A fork's: the run it was forked from (ADR 38).
    string? ParentRunId = null);

public sealed record LogLine(long Seq, DateTimeOffset Timestamp, string? Phase, int? Iteration, string Level, string Message);

public sealed record RunLogs(string RunId, IReadOnlyList<LogLine> Lines);

public sealed record RunEventInfo(long Seq, string RunId, string Type, string? Phase, int? Iteration, string? Actor, JsonElement? Data, DateTimeOffset CreatedAt);

public sealed record ProfileSummary(string Name, string? Description, string Source, string Mode, int MaxIterations, decimal? BudgetUsd, IReadOnlyList<string> Phases);

/// <summary>A profile file's problem; <paramref name="Column"/> is known for YAML syntax errors.</summary>
public sealed record ProfileProblem(string File, int Line, string Message, int? Column = null);

public sealed record ProfileList(IReadOnlyList<ProfileSummary> Profiles, IReadOnlyList<ProfileProblem> Errors);

/// <summary>A phase's gate as its profile defines it: the timeout, and the policy (docs/gates.md).</summary>
public sealed record GateInfo(
    string Timeout,
    string OnTimeout,
    IReadOnlyList<string> RejectTo,
    int Approvals = 1,
    IReadOnlyList<string>? Approvers = null,
    IReadOnlyDictionary<string, int>? RequiredGroups = null,
    string SelfApproval = "allow",
    string? RemindAfter = null,
    IReadOnlyList<GateInputInfo>? Inputs = null);

public sealed record CheckInfo(string Artifact, string? Contains);

public sealed record PhaseDefinitionInfo(
    string Name,
    string Worker,
    string? Prompt,
    IReadOnlyList<string> Produces,
    IReadOnlyList<CheckInfo> Checks,
    GateInfo? Gate,
    string? RetryFrom,
    string Timeout,
    int MaxAttempts);

public sealed record ProfileDetail(
    string Name,
    string? Description,
    string Source,
    string Mode,
    int MaxIterations,
    decimal? BudgetUsd,
    IReadOnlyList<PhaseDefinitionInfo> Phases,
    string Yaml);

public sealed record CreateKeyRequest(string? Name, string? Role, DateTimeOffset? ExpiresAt = null, IReadOnlyList<string>? Groups = null);

/// <summary>A one-time link that signs a browser in to the dashboard as the key that asked for it.</summary>
public sealed record SignInLink(string Url, DateTimeOffset ExpiresAt);

public sealed record CreatedKey(string KeyId, string Name, string Role, string Token, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, IReadOnlyList<string>? Groups = null);

public sealed record KeyInfo(string KeyId, string Name, string Role, string? CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, IReadOnlyList<string>? Groups = null);

public sealed record KeyList(IReadOnlyList<KeyInfo> Keys);

public sealed record Health(string Status, DateTimeOffset Timestamp);

/// <summary>Readiness: the database, and how agents and checks are confined (`bubblewrap`, `off`, or `unavailable`).</summary>
public sealed record Readiness(string Status, string Database, DateTimeOffset Timestamp, string? Sandbox = null);

/// <summary>An artifact's stored bytes (not JSON on the wire: the body is the content, the iteration a header).</summary>
public sealed record ArtifactContent(string Name, int Iteration, string MediaType, byte[] Content);

/// <summary>A webhook to create: where to POST, the HMAC secret that signs each body, and which events to send.</summary>
public sealed record CreateWebhookRequest(string? Url, string? Secret, IReadOnlyList<string>? Events);

/// <summary>A webhook as listed: never its secret.</summary>
public sealed record WebhookInfo(string WebhookId, string Url, IReadOnlyList<string> Events, string? CreatedBy, DateTimeOffset CreatedAt);

public sealed record WebhookList(IReadOnlyList<WebhookInfo> Webhooks);

/// <summary>One event's delivery to one webhook: <c>pending</c> (being tried, with backoff), <c>delivered</c>, or <c>failed</c> (gave up).</summary>
public sealed record WebhookDeliveryInfo(
    string DeliveryId, string Event, string RunId, string Status, int Attempts, int? LastStatusCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? DeliveredAt);

public sealed record WebhookDeliveryList(IReadOnlyList<WebhookDeliveryInfo> Deliveries);

/// <summary>One write request as the audit log recorded it: who (key and name), what (method, route, path, run), when, from where, and its status.</summary>
public sealed record AuditEntry(
    long Id, DateTimeOffset At, string? KeyId, string Actor, string Method, string Route, string Path, string? RunId, int Status, string? Address);

/// <summary>A page of the audit log, newest first; <c>next_before</c> asks for the page after it (null: none).</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextBefore);

/// <summary>A garbage collection to run now (admin): finished runs older than <c>older_than</c> (a duration: <c>30d</c>).</summary>
public sealed record GcRequest(string? OlderThan);

/// <summary>What retention or a gc freed: runs retained, events (log lines included), artifacts and blobs deleted, bytes.</summary>
public sealed record GcResult(long Runs, long EventsDeleted, long ArtifactsDeleted, long BlobsDeleted, long BytesFreed)
{
    public GcResult Add(GcResult other) =>
        new(Runs + other.Runs, EventsDeleted + other.EventsDeleted, ArtifactsDeleted + other.ArtifactsDeleted, BlobsDeleted + other.BlobsDeleted, BytesFreed + other.BytesFreed);
}
