using System.Net.Http.Headers;
using System.Text;
using Baton.Engine;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Webhooks;

/// <summary>
/// Delivers one webhook delivery, as the engine's job of kind <c>deliver_webhook</c>: POSTs its body, signed, then
/// records the attempt in a transaction whose first write is the job's fence. A 2xx ends the job; anything else
/// moves it to after its backoff, until <see cref="WebhookDeliveries.MaxAttempts"/>. A run never waits for it.
/// Delivery is at least once: a node that dies after the POST and before its commit sends it again, under the same id.
/// </summary>
public sealed class WebhookSender(Database db, IHttpClientFactory http, BatonOptions options, Ops.BatonMetrics metrics, EngineSignals signals, TimeProvider time, ILogger<WebhookSender> logger)
{
    public const string HttpClientName = "webhooks";

    /// <summary>Longer than any receiver should take, well within the job's 30 s lease.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public async Task DeliverAsync(JobRow job, CancellationToken ct)
    {
        var found = await db.ReadAsync(c => WebhookStore.FindDeliveryAsync(c, job.RunId), ct);
        if (found is not var (delivery, url, secret))
        {
            // The webhook was deleted after this job was claimed: nothing left to send.
            await db.WriteAsync((c, tx) => JobQueue.DeleteAsync(c, tx, job), ct);
            return;
        }
        var profile = await db.ReadAsync(c => RunStore.ProfileAsync(c, delivery.RunId), ct);
        var body = WebhookDeliveries.Body(delivery, profile, options.PublicUrl);
        var (status, error) = await PostAsync(url, secret, delivery, body, ct);
        var delivered = status is >= 200 and < 300;
        var attempts = delivery.Attempts + 1;
        var now = time.GetUtcNow();
        DateTimeOffset? retryAt = delivered || attempts >= WebhookDeliveries.MaxAttempts ? null : now + WebhookDeliveries.Backoff(attempts);
        var outcome = delivered ? WebhookStore.Delivered : retryAt is null ? WebhookStore.Failed : WebhookStore.Pending;
        var recorded = await db.WriteAsync(async (c, tx) =>
        {
            if (!await JobQueue.EndAsync(c, tx, job, retryAt))
            {
                return false;
            }
            await WebhookStore.RecordAttemptAsync(c, tx, delivery.Id, outcome, status, error, delivered ? now.ToMs() : null);
            return true;
        }, CancellationToken.None);
        if (recorded)
        {
            metrics.WebhookAttempted(delivery.Event, outcome);
            if (retryAt is not null)
            {
                // The pacemaker last looked before this job moved: it would sleep through the retry's time.
                signals.Jobs.LookAgain();
            }
        }
        if (!delivered)
        {
            logger.LogWarning("Webhook delivery {DeliveryId} ({Event}) to {Url} failed (attempt {Attempts}): {Error}",
                delivery.Id, delivery.Event, url, attempts, error);
        }
    }

    private async Task<(int? Status, string? Error)> PostAsync(string url, string secret, DeliveryRow delivery, string body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Add("X-Baton-Event", delivery.Event);
        request.Headers.Add("X-Baton-Delivery", delivery.Id);
        request.Headers.Add("X-Baton-Signature", WebhookDeliveries.Signature(secret, body));
        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            return (status, status is >= 200 and < 300 ? null : $"HTTP {status} {response.ReasonPhrase}");
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return (null, ex is TaskCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : ex.Message);
        }
    }
}

/// <summary>
/// On SQLite, wakes the workers when a committed event queued webhook deliveries: their jobs are due at once, and no
/// engine signal announces them. On PostgreSQL the transaction that queues them announces them to every node instead
/// (<see cref="ClusterSignals.AnnounceJobsAtCommitAsync"/>), so that worker nodes, which serve no event streams, need
/// not read every event.
/// </summary>
public sealed class WebhookWaker(EventFeed feed, EngineSignals signals, EngineOptions engine, Database db) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!engine.Enabled || !db.Dialect.SingleWriter)
        {
            return;
        }
        var after = -1L;
        while (!stoppingToken.IsCancellationRequested)
        {
            var updated = feed.Updated.Current;
            var tail = feed.Tail;
            if (after >= 0 && tail > after)
            {
                // Fell behind what the feed holds: there may have been some; the pacemaker looks at the jobs themselves.
                if (!feed.TryRead(null, after, int.MaxValue, out var events) || events.Any(e => WebhookDeliveries.Events.Contains(e.Type)))
                {
                    signals.Jobs.LookAgain();
                }
            }
            after = Math.Max(after, tail);
            await updated.WaitAsync(stoppingToken);
        }
    }
}
