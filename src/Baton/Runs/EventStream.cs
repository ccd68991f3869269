using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// Server-sent events from the event log. Each event's id is its sequence number, so a client that reconnects
/// with Last-Event-ID misses nothing. A run's stream ends once the run has finished for good (completed, cancelled or
/// expired; a failed run can still be retried) and every event is sent.
/// </summary>
public static class EventStream
{
    private const int Batch = 500;
    private const int RetryAfterSeconds = 30;
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>Timers take at most about 24 days; a key expiring later is still caught by the periodic check.</summary>
    private static readonly TimeSpan MaxTimer = TimeSpan.FromDays(24);

    /// <summary>
    /// What a stream sends. The API's streams send every event under its type's name. The dashboard's scripts only ask
    /// "did anything change?" and "what was logged?", so for them a stream names only log events and sends every other
    /// event unnamed (to EventSource.onmessage): no script lists the event types, and a new type refreshes pages too.
    /// </summary>
    public sealed record Style(bool Logs, bool NameEvents)
    {
        public static readonly Style Api = new(Logs: true, NameEvents: true);
        public static readonly Style RunPage = new(Logs: true, NameEvents: false);
        public static readonly Style RunsList = new(Logs: false, NameEvents: false);
    }

    public static async Task<IResult> ForRunAsync(string id, HttpContext http, Database db, EventFeed feed, TimeProvider time, Style? style = null)
    {
        if (!await db.ReadAsync(c => RunStore.ExistsAsync(c, null, id)))
        {
            return Problems.NotFound("run", id);
        }
        return Start(http, id, RunFinishedForGood(id), db, feed, time, style ?? Style.Api);
    }

    /// <summary>
    /// A standalone execution's events: its status changes and log lines, from its creation (or after Last-Event-ID);
    /// the stream ends once it has ended (success, error or cancelled) and every event is sent.
    /// </summary>
    public static async Task<IResult> ForExecutionAsync(string id, HttpContext http, Database db, EventFeed feed, TimeProvider time, Style? style = null)
    {
        if (await db.ReadAsync(c => Engine.ExecutionStore.StandaloneStatusAsync(c, null, id)) is null)
        {
            return Problems.NotFound("standalone execution", id);
        }
        return Start(http, id, async c => await Engine.ExecutionStore.StandaloneStatusAsync(c, null, id) is not (Engine.ExecutionStatus.Pending or Engine.ExecutionStatus.Running),
            db, feed, time, style ?? Style.Api);
    }

    private static Func<System.Data.Common.DbConnection, Task<bool>> RunFinishedForGood(string runId) =>
        async c => StateNames.IsFinishedForGood(await RunStore.StatusAsync(c, null, runId));

    /// <summary>Every run's events; from now on, unless Last-Event-ID says where to resume (0 replays all history).</summary>
    public static async Task<IResult> ForAllAsync(HttpContext http, Database db, EventFeed feed, TimeProvider time, Style? style = null) =>
        Start(http, null, null, db, feed, time, style ?? Style.Api, await db.ReadAsync(c => EventLog.LastSeqAsync(c, null)));

    // runId: the run or standalone execution whose events are sent, null for every event; finishedForGood: whether it
    // will never change again (its stream then ends), null for every event.
    private static IResult Start(HttpContext http, string? runId, Func<System.Data.Common.DbConnection, Task<bool>>? finishedForGood, Database db, EventFeed feed, TimeProvider time, Style style, long from = 0)
    {
        string? resume = http.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? http.Request.Query["last_event_id"].FirstOrDefault();
        var after = from;
        if (resume is not null && (!long.TryParse(resume, NumberStyles.None, CultureInfo.InvariantCulture, out after)))
        {
            return Problems.Invalid("Last-Event-ID", "Last-Event-ID must be the id of an event (a whole number)");
        }
        return new StreamResult(runId, finishedForGood, after, style, http.User.FindFirstValue(ClaimTypes.NameIdentifier), http.User.FindFirstValue(Dashboard.DashboardAuth.SessionClaim), db, feed, time);
    }

    private sealed class StreamResult(string? runId, Func<System.Data.Common.DbConnection, Task<bool>>? finishedForGood, long after, Style style, string? keyId, string? sessionId, Database db, EventFeed feed, TimeProvider time) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            var (lease, refused) = http.RequestServices.GetRequiredService<OpenStreams>().TryOpen(keyId ?? "anonymous", sessionId);
            if (lease is null)
            {
                // EventSource gives up on a non-200 answer; the dashboard's scripts read this as "try again later".
                http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                await Problems.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests", refused!);
                return;
            }
            using var held = lease;
            // A key that expires, or a dashboard session that ends (BATON_SESSION_TTL), while its stream is open ends
            // the stream then, not at the next periodic check.
            var expiresAt = keyId is null ? null : await db.ReadAsync(c => ApiKeyStore.ExpiresAtAsync(c, null, keyId), http.RequestAborted);
            var untilExpiry = expiresAt is { } ms ? Times.FromMs(ms) - time.GetUtcNow() : TimeSpan.MaxValue;
            if (sessionId is not null)
            {
                var signedInAt = await db.ReadAsync(c => Dashboard.DashboardSessionStore.SignedInAtAsync(c, null, sessionId), http.RequestAborted);
                var sessionEnds = signedInAt is { } at ? Times.FromMs(at) + http.RequestServices.GetRequiredService<BatonOptions>().SessionTtl : time.GetUtcNow();
                untilExpiry = TimeSpan.FromTicks(Math.Min(untilExpiry.Ticks, (sessionEnds - time.GetUtcNow()).Ticks));
            }
            using var expiry = untilExpiry < MaxTimer ? new CancellationTokenSource(untilExpiry > TimeSpan.Zero ? untilExpiry : TimeSpan.Zero, time) : new CancellationTokenSource();
            // Ends when the client goes away, the server stops (an open stream must not hold up a shutdown), or the
            // key is revoked or expires.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(
                http.RequestAborted, http.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping, lease.Ended, expiry.Token);
            var ct = stop.Token;
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
            var last = after;
            var lastWrite = time.GetUtcNow();
            var keyCheckedAt = lastWrite;
            var statusKnown = false;
            var finishedSeen = false;
            var timedOut = false;
            Task? quiet = null;
            try
            {
                // Inside the try: a session or key that ends while the headers go out ends the stream like any other
                // time (it was an unhandled cancellation, which aborted the response).
                await http.Response.Body.FlushAsync(ct);
                while (!ct.IsCancellationRequested)
                {
                    var wake = feed.Updated.Current;
                    if (time.GetUtcNow() - keyCheckedAt >= KeepAlive)
                    {
                        // A revoked or expired key stops receiving events at once, even on a stream it opened before.
                        keyCheckedAt = time.GetUtcNow();
                        if (keyId is not null && !await db.ReadAsync(c => ApiKeyStore.IsActiveAsync(c, null, keyId, keyCheckedAt.ToMs()), ct))
                        {
                            return;
                        }
                    }
                    // From the node's feed when it holds them (no query), else from the database: a stream far behind,
                    // a finished run's last events (committed, maybe not yet read by the feed), or a quiet stream's
                    // periodic look, which also catches a write that did not signal.
                    if (finishedSeen || timedOut || !feed.TryRead(runId, last, Batch, out var events))
                    {
                        events = (await db.ReadAsync(c => EventLog.AfterAsync(c, null, runId, last, Batch), ct)).ToList();
                    }
                    // A run finishes with an event, so its status needs reading only when its events came (and at first, and on a
                    // periodic look).
                    var finished = finishedSeen;
                    if (!finished && finishedForGood is not null && events.Count < Batch && (events.Count > 0 || !statusKnown || timedOut))
                    {
                        statusKnown = true;
                        finished = await db.ReadAsync(finishedForGood, ct);
                    }
                    if (events.Count > 0)
                    {
                        var text = new StringBuilder();
                        foreach (var e in events)
                        {
                            last = e.Seq;
                            var isLog = e.Type == EventLog.LogType;
                            if (isLog && !style.Logs)
                            {
                                continue;
                            }
                            text.Append("id: ").Append(e.Seq);
                            if (isLog || style.NameEvents)
                            {
                                text.Append("\nevent: ").Append(e.Type);
                            }
                            text.Append("\ndata: ").Append(e.StreamJson).Append("\n\n");
                        }
                        if (text.Length > 0)
                        {
                            await http.Response.WriteAsync(text.ToString(), ct);
                            await http.Response.Body.FlushAsync(ct);
                            lastWrite = time.GetUtcNow();
                        }
                    }
                    if (finished)
                    {
                        // Events of a finished run may still be committed by the transaction that finished it;
                        // one more read after the status was seen final catches them, once they have their ids.
                        finishedSeen = true;
                        await http.RequestServices.GetRequiredService<EventSequencer>().CatchUpAsync(ct);
                        var tail = await db.ReadAsync(c => EventLog.AfterAsync(c, null, runId, last, Batch), ct);
                        if (!tail.Any())
                        {
                            return;
                        }
                        continue;
                    }
                    if (events.Count == Batch)
                    {
                        continue;
                    }
                    // One timer per keep-alive period, not one made and cancelled on every wake: a busy node wakes every
                    // open stream for each batch of events it reads.
                    quiet ??= Task.Delay(KeepAlive, time, ct);
                    timedOut = await Task.WhenAny(wake, quiet) != wake;
                    quiet = timedOut ? null : quiet;
                    // Proxies drop connections that stay silent; other runs' events waking this loop are no sign of life.
                    if (!ct.IsCancellationRequested && time.GetUtcNow() - lastWrite >= KeepAlive)
                    {
                        await http.Response.WriteAsync(": keep-alive\n\n", ct);
                        await http.Response.Body.FlushAsync(ct);
                        lastWrite = time.GetUtcNow();
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The client went away, the server is stopping, or the key no longer counts.
            }
        }
    }

    public static RunEventInfo ToWire(EventLog.EventRow e) => new(
        e.Seq, e.RunId, e.Type, e.Phase, e.Iteration, e.Actor,
        e.Data is null ? null : JsonDocument.Parse(e.Data).RootElement.Clone(),
        Times.FromMs(e.CreatedAt));
}
