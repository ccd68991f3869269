using System.Data;
using Baton.Runs;

namespace Baton.Engine;

/// <summary>
/// A standalone execution's status changes, as events of the execution (keyed by its id, like its log lines), written
/// in the transaction that changes the status: `exec run --watch`, the API's stream and the dashboard follow them live.
/// Each carries the new status and, for an error, why. A phase's execution needs none: its run's events say it all.
/// </summary>
public static class ExecutionEvents
{
    public const string Created = "execution.created";
    public const string Started = "execution.started";
    public const string Succeeded = "execution.succeeded";
    public const string Failed = "execution.failed";
    public const string Cancelled = "execution.cancelled";

    /// <summary>The event of a change to <paramref name="status"/> (an ExecutionStatus).</summary>
    public static RunEvent Of(string status, string? error = null) => new(
        status switch
        {
            ExecutionStatus.Pending => Created,
            ExecutionStatus.Running => Started,
            ExecutionStatus.Success => Succeeded,
            ExecutionStatus.Error => Failed,
            ExecutionStatus.Cancelled => Cancelled,
            _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not an execution status"),
        },
        null, null, null,
        new Dictionary<string, object?> { ["status"] = status, ["error_message"] = error });

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string executionId, string status, string? error, DateTimeOffset now) =>
        EventLog.AppendAsync(c, tx, executionId, Of(status, error), now);
}
