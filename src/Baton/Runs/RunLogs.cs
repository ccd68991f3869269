using System.Data;

namespace Baton.Runs;

/// <summary>
/// Log lines are events of type `log` ({level, message}) of their run or standalone execution: they stream live
/// with every other event, under the same resumable cursor, and nothing else stores them. Their SQL is
/// <see cref="EventLog"/>'s, the owner of the `events` table.
/// </summary>
public static class RunLogs
{
    public const string EventType = "log";

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string ownerId, string? phase, int? iteration, string level, IEnumerable<string> messages, DateTimeOffset now) =>
        EventLog.AppendLogsAsync(c, tx, ownerId, phase, iteration, level, messages, now);

    /// <summary>Up to <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first: a page of the whole log.</summary>
    public static Task<List<Client.LogLine>> PageAsync(IDbConnection c, string ownerId, int lines, long after) =>
        EventLog.LogPageAsync(c, null, ownerId, lines, after);

    /// <summary>The last <paramref name="lines"/> log lines after the event <paramref name="after"/>, oldest first.</summary>
    public static Task<List<Client.LogLine>> TailAsync(IDbConnection c, string ownerId, int lines, long after = 0) =>
        EventLog.LogTailAsync(c, null, ownerId, lines, after);
}
