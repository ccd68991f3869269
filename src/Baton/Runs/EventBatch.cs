using System.Data;
using System.Text.Json;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// The events of one transaction, appended as they happen and written together, in order, at its end
/// (<see cref="EventLog.AppendManyAsync"/>). A phase hand-off appends 4 or more (log lines, artifacts, the
/// transition's events, the next phase's start), which were as many statements.
/// </summary>
public sealed class EventBatch
{
    private readonly List<EventLog.NewEvent> _rows = [];

    /// <remarks>
    /// Every event's data passes the redactor here (ADR 40), as JSON: a secret's JSON spelling is one of the values it
    /// looks for, so one pass over the serialized text finds it in any field.
    /// </remarks>
    public void Add(string runId, RunEvent e, DateTimeOffset now) =>
        _rows.Add(new(runId, e.Type, e.Phase, e.Iteration, e.Actor, e.Data is null ? null : Ops.Redactor.Process.Redact(JsonSerializer.Serialize(e.Data, EventLog.Json)), now.ToMs()));

    /// <summary>A log line of a run's phase (or of a standalone execution, <paramref name="ownerId"/>).</summary>
    public void AddLog(string ownerId, string? phase, int? iteration, string level, string message, DateTimeOffset now) =>
        _rows.Add(new(ownerId, EventLog.LogType, phase, iteration, null, Ops.Redactor.Process.Redact(JsonSerializer.Serialize(new { level, message })), now.ToMs()));

    public async Task WriteAsync(IDbConnection c, IDbTransaction tx)
    {
        await EventLog.AppendManyAsync(c, tx, _rows);
        // In the same transaction: an event that commits has its webhook deliveries queued, and one that rolls back has none.
        await Webhooks.WebhookDeliveries.QueueAsync(c, tx, _rows);
        _rows.Clear();
    }
}
