using System.Data;
using System.Text.Json;
using Dapper;

namespace Baton.Runs;

/// <summary>The append-only event log. Events are written in the transaction of the change they record.</summary>
public static class EventLog
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static Task AppendAsync(IDbConnection c, IDbTransaction tx, string runId, RunEvent e, DateTimeOffset now) =>
        c.ExecuteAsync(
            "INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at) VALUES (@runId, @Type, @Phase, @Iteration, @Actor, @data, @now)",
            new { runId, e.Type, e.Phase, e.Iteration, e.Actor, data = e.Data is null ? null : JsonSerializer.Serialize(e.Data, Json), now = now.ToUnixTimeMilliseconds() },
            tx);
}
