using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

public static class RunLogs
{
    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string runId, string? phase, int? iteration, string level, IEnumerable<string> messages, DateTimeOffset now) =>
        c.ExecuteAsync(
            "INSERT INTO logs(run_id, phase, iteration, level, message, created_at) VALUES (@runId, @phase, @iteration, @level, @message, @now)",
            messages.Select(message => new { runId, phase, iteration, level, message, now = now.ToMs() }), tx);
}
