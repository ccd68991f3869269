using System.Data;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Webhooks;

/// <summary>
/// Which events go to webhooks, how a delivery is queued (in the transaction of its event) and what its body says.
/// The body is built from what the delivery row keeps, so every retry sends the same bytes under the same id.
/// </summary>
public static class WebhookDeliveries
{
    /// <summary>The events a webhook may ask for.</summary>
    public static readonly IReadOnlyList<string> Events =
        ["gate.opened", "gate.reminded", "gate.expired", "run.budget_stopped", "run.failed", "run.completed"];

    /// <summary>Queues one delivery (a row and its job) per webhook that asked for each of these events; nothing for other events.</summary>
    public static async Task QueueAsync(IDbConnection c, IDbTransaction tx, IReadOnlyList<EventLog.NewEvent> events)
    {
        var notified = events.Where(e => Events.Contains(e.Type)).ToList();
        if (notified.Count == 0)
        {
            return;
        }
        var webhooks = (await WebhookStore.ListAsync(c, tx)).Select(w => (w.Id, Events: JsonSerializer.Deserialize<List<string>>(w.Events)!)).ToList();
        var queued = 0;
        foreach (var e in notified)
        {
            foreach (var webhook in webhooks.Where(w => w.Events.Contains(e.Type)))
            {
                var delivery = new DeliveryRow
                {
                    Id = Ids.New("dlv", e.CreatedAt),
                    WebhookId = webhook.Id,
                    Event = e.Type,
                    RunId = e.RunId,
                    Payload = JsonSerializer.Serialize(new Facts(e.Phase, e.Iteration, e.Actor, e.Data, e.CreatedAt)),
                    Status = WebhookStore.Pending,
                    CreatedAt = e.CreatedAt,
                };
                await WebhookStore.InsertDeliveryAsync(c, tx, delivery);
                await JobQueue.EnqueueDeliveryAsync(c, tx, delivery.Id, e.CreatedAt);
                queued++;
            }
        }
        if (queued > 0)
        {
            await Engine.ClusterSignals.AnnounceJobsAtCommitAsync(c, tx, queued);
        }
    }

    /// <summary>What the delivery row keeps of its event, besides its type and run.</summary>
    private sealed record Facts(string? Phase, int? Iteration, string? Actor, string? Data, long CreatedAt);

    /// <summary>
    /// The JSON body: the delivery's id and event, the run, the gate (for gate events), a one-line <c>text</c> that a
    /// Slack or Teams incoming webhook shows as it is, and the run's dashboard page when BATON_PUBLIC_URL is set.
    /// </summary>
    public static string Body(DeliveryRow delivery, string? profile, string? publicUrl)
    {
        var facts = JsonSerializer.Deserialize<Facts>(delivery.Payload)!;
        var url = publicUrl is null ? null : $"{publicUrl.TrimEnd('/')}/runs/{Uri.EscapeDataString(delivery.RunId)}";
        var data = facts.Data is null ? null : JsonNode.Parse(facts.Data);
        var what = profile is null ? $"Run {delivery.RunId}" : $"Run {delivery.RunId} ({profile})";
        var text = delivery.Event switch
        {
            "gate.opened" => $"{what} waits for approval after phase {facts.Phase}",
            "gate.reminded" => $"Reminder: {what} still waits for approval after phase {facts.Phase}",
            "gate.expired" => $"{what}: the gate after phase {facts.Phase} expired",
            "run.budget_stopped" => $"{what} stopped at its budget and waits for approval to go on",
            "run.failed" => $"{what} failed" + (data?["error"]?.GetValue<string>() is { } error ? $": {error}" : ""),
            _ => $"{what} completed",
        };
        if (url is not null)
        {
            text += $" <{url}>";
        }
        var body = new JsonObject
        {
            ["delivery_id"] = delivery.Id,
            ["event"] = delivery.Event,
            ["occurred_at"] = Times.FromMs(facts.CreatedAt).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["text"] = text,
            ["url"] = url,
            ["run"] = new JsonObject { ["id"] = delivery.RunId, ["profile"] = profile },
            ["gate"] = delivery.Event.StartsWith("gate.", StringComparison.Ordinal)
                ? new JsonObject { ["phase"] = facts.Phase, ["iteration"] = facts.Iteration }
                : null,
            ["actor"] = facts.Actor,
            ["data"] = data,
        };
        return body.ToJsonString();
    }

    /// <summary>The <c>X-Baton-Signature</c> header's value: <c>sha256=</c> and the hex HMAC-SHA256 of the body under the webhook's secret.</summary>
    public static string Signature(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    /// <summary>Attempts before a delivery is given up as failed: about 17 minutes of backoff.</summary>
    public const int MaxAttempts = 10;

    /// <summary>The wait before attempt n + 1: 1 s, 2 s, 4 s … at most 5 minutes.</summary>
    public static TimeSpan Backoff(int attempts) => TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, attempts - 1)));
}
