using System.Data;
using System.Text.Json;
using Baton.Client;
using Baton.Storage;
using Dapper;

namespace Baton.ToolApprovals;

public sealed class ToolApprovalRow
{
    public string Id { get; set; } = "";
    public string RunId { get; set; } = "";
    public string ExecutionId { get; set; } = "";
    public string? Phase { get; set; }
    public int? Iteration { get; set; }
    public string Tool { get; set; } = "";
    public string Input { get; set; } = "{}";
    public string? ToolUseId { get; set; }
    public string Status { get; set; } = ToolApprovalStatuses.Pending;
    public string? Message { get; set; }
    public long RequestedAt { get; set; }
    public string? DecidedBy { get; set; }
    public long? DecidedAt { get; set; }

    /// <summary>A row of <see cref="ToolApprovalStore"/>'s queries, read by hand in the order of their columns.</summary>
    internal static ToolApprovalRow Read(IDataRecord r) => new()
    {
        Id = r.GetString(0),
        RunId = r.GetString(1),
        ExecutionId = r.GetString(2),
        Phase = r.GetNullableString(3),
        Iteration = r.IsDBNull(4) ? null : r.GetInt32(4),
        Tool = r.GetString(5),
        Input = r.GetString(6),
        ToolUseId = r.GetNullableString(7),
        RequestedAt = r.GetInt64(8),
        DecidedBy = r.GetNullableString(9),
        Status = r.GetString(10),
        Message = r.GetNullableString(11),
        DecidedAt = r.GetNullableInt64(12),
    };

    public ToolApprovalInfo ToInfo()
    {
        using var input = JsonDocument.Parse(Input);
        return new(Id, Tool, input.RootElement.Clone(), Status, Times.FromMs(RequestedAt), DecidedBy, Times.FromMs(DecidedAt), Message,
            ExecutionId, Phase, Iteration);
    }
}

/// <summary>The tool_approvals table (migration 0018): one row per request, decided once.</summary>
/// <remarks>
/// A request still pending when its execution is no longer running reads as <c>expired</c> (ADR 44): the status is
/// derived from the execution's, which every way of ending an execution already records with its events, so no end
/// path has to remember the approvals, and one that is added later cannot forget them.
/// </remarks>
public static class ToolApprovalStore
{
    private const string Expired = "t.status = 'pending' AND COALESCE(e.status, '') <> 'running'";

    private const string Select = $"""
        SELECT t.id, t.run_id, t.execution_id, t.phase, t.iteration, t.tool, t.input, t.tool_use_id, t.requested_at, t.decided_by,
            CASE WHEN {Expired} THEN 'expired' ELSE t.status END AS status,
            CASE WHEN {Expired} THEN 'the execution ended (' || COALESCE(e.status, 'deleted') || ') before anyone decided' ELSE t.message END AS message,
            CASE WHEN {Expired} THEN e.completed_at ELSE t.decided_at END AS decided_at
        FROM tool_approvals t LEFT JOIN executions e ON e.id = t.execution_id
        """;

    public static Task<ToolApprovalRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string id) =>
        c.QuerySingleOrDefaultAsync<ToolApprovalRow>($"{Select} WHERE t.id = @id", new { id }, tx);

    public static Task<ToolApprovalRow?> FindByUseAsync(IDbConnection c, IDbTransaction? tx, string executionId, string toolUseId) =>
        c.QuerySingleOrDefaultAsync<ToolApprovalRow>(
            $"{Select} WHERE t.execution_id = @executionId AND t.tool_use_id = @toolUseId", new { executionId, toolUseId }, tx);

    public static async Task<List<ToolApprovalRow>> OfRunAsync(IDbConnection c, IDbTransaction? tx, string runId) =>
        (await c.QueryAsync<ToolApprovalRow>(OfRun, new { runId }, tx)).ToList();

    /// <summary>The requests of the run @runId, oldest first, for reads that batch it with others.</summary>
    public const string OfRun = $"{Select} WHERE t.run_id = @runId ORDER BY t.requested_at, t.id";

    /// <summary>
    /// Inserts the request; false when the same call (execution and tool_use_id) was inserted by a request that
    /// overlapped this one, whose row then stands (on PostgreSQL both found none before either committed).
    /// </summary>
    public static async Task<bool> InsertAsync(IDbConnection c, IDbTransaction tx, ToolApprovalRow row) =>
        await c.ExecuteAsync("""
            INSERT INTO tool_approvals (id, run_id, execution_id, phase, iteration, tool, input, tool_use_id, status, message, requested_at, decided_by, decided_at)
            VALUES (@Id, @RunId, @ExecutionId, @Phase, @Iteration, @Tool, @Input, @ToolUseId, @Status, @Message, @RequestedAt, @DecidedBy, @DecidedAt)
            ON CONFLICT (execution_id, tool_use_id) WHERE tool_use_id IS NOT NULL DO NOTHING
            """, row, tx) == 1;

    /// <summary>
    /// Decides a pending request; false when it was decided already (the first decision stands) or has expired (its
    /// execution is no longer running).
    /// </summary>
    public static async Task<bool> DecideAsync(IDbConnection c, IDbTransaction tx, string id, string status, string actor, string? message, long now) =>
        await c.ExecuteAsync("""
            UPDATE tool_approvals SET status = @status, decided_by = @actor, message = @message, decided_at = @now
            WHERE id = @id AND status = 'pending'
              AND EXISTS (SELECT 1 FROM executions e WHERE e.id = tool_approvals.execution_id AND e.status = 'running')
            """, new { id, status, actor, message, now }, tx) == 1;
}
