using System.Data;
using Baton.Storage;
using Dapper;

namespace Baton.Webhooks;

public sealed class WebhookRow
{
    public string Id { get; set; } = "";
    public string Url { get; set; } = "";
    public string Secret { get; set; } = "";

    /// <summary>The event types, as a JSON array.</summary>
    public string Events { get; set; } = "[]";
    public string? CreatedBy { get; set; }
    public long CreatedAt { get; set; }
}

public sealed class DeliveryRow
{
    public string Id { get; set; } = "";
    public string WebhookId { get; set; } = "";
    public string Event { get; set; } = "";
    public string RunId { get; set; } = "";
    public string Payload { get; set; } = "";
    public string Status { get; set; } = "";
    public int Attempts { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
    public long CreatedAt { get; set; }
    public long? DeliveredAt { get; set; }
}

/// <summary>The <c>webhooks</c> and <c>webhook_deliveries</c> tables. Times are Unix ms.</summary>
public static class WebhookStore
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";

    public static Task InsertAsync(IDbConnection c, IDbTransaction tx, WebhookRow row) =>
        c.ExecuteAsync(
            "INSERT INTO webhooks(id, url, secret, events, created_by, created_at) VALUES (@Id, @Url, @Secret, @Events, @CreatedBy, @CreatedAt)",
            row, tx);

    public static async Task<IReadOnlyList<WebhookRow>> ListAsync(IDbConnection c, IDbTransaction? tx) =>
        (await c.QueryAsync<WebhookRow>("SELECT * FROM webhooks ORDER BY created_at, id", transaction: tx)).AsList();

    public static Task<bool> ExistsAsync(IDbConnection c, string id) =>
        c.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = @id)", new { id });

    /// <summary>Deletes the webhook, its deliveries (cascade) and their jobs; false when there was no such webhook.</summary>
    public static async Task<bool> DeleteAsync(IDbConnection c, IDbTransaction tx, string id)
    {
        await Engine.JobQueue.DeleteOfWebhookAsync(c, tx, id);
        return await c.ExecuteAsync("DELETE FROM webhooks WHERE id = @id", new { id }, tx) == 1;
    }

    public static Task InsertDeliveryAsync(IDbConnection c, IDbTransaction tx, DeliveryRow row) =>
        c.DeferAsync(
            """
            INSERT INTO webhook_deliveries(id, webhook_id, event, run_id, payload, status, attempts, created_at)
            VALUES (@Id, @WebhookId, @Event, @RunId, @Payload, @Status, 0, @CreatedAt)
            """, row, tx);

    /// <summary>A delivery with its webhook's URL and secret, or null when either is gone (the webhook was deleted).</summary>
    public static async Task<(DeliveryRow Delivery, string Url, string Secret)?> FindDeliveryAsync(IDbConnection c, string id)
    {
        var found = await c.QueryAsync<DeliveryRow, WebhookRow, (DeliveryRow, string, string)>(
            "SELECT d.*, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = @id",
            (d, w) => (d, w.Url, w.Secret), new { id }, splitOn: "url");
        return found.Cast<(DeliveryRow, string, string)?>().SingleOrDefault();
    }

    /// <summary>The webhook's latest deliveries, newest first.</summary>
    public static async Task<IReadOnlyList<DeliveryRow>> DeliveriesAsync(IDbConnection c, string webhookId, int limit) =>
        (await c.QueryAsync<DeliveryRow>(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = @webhookId ORDER BY created_at DESC, id DESC LIMIT @limit",
            new { webhookId, limit })).AsList();

    /// <summary>Records an attempt: its HTTP status (null when none came back), its error, and the delivery's status after it.</summary>
    public static Task RecordAttemptAsync(IDbConnection c, IDbTransaction tx, string id, string status, int? statusCode, string? error, long? deliveredAt) =>
        c.ExecuteAsync(
            """
            UPDATE webhook_deliveries SET attempts = attempts + 1, status = @status, last_status_code = @statusCode,
                last_error = @error, delivered_at = @deliveredAt
            WHERE id = @id
            """, new { id, status, statusCode, error, deliveredAt }, tx);
}
