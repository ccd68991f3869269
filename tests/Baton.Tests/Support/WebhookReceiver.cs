using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Baton.Tests.Support;

/// <summary>A local webhook receiver: records every request and answers the scripted statuses, then 200.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ReceivedDelivery> _received = Channel.CreateUnbounded<ReceivedDelivery>();
    private readonly ConcurrentQueue<HttpStatusCode> _answers;

    private WebhookReceiver(WebApplication app, IEnumerable<HttpStatusCode> answers)
    {
        _app = app;
        _answers = new(answers);
    }

    public string Url => LoopbackApp.AddressOf(_app) + "/hook";

    public ConcurrentQueue<ReceivedDelivery> All { get; } = new();

    public static Task<WebhookReceiver> StartAsync(params HttpStatusCode[] answers) => StartAsync(null, answers);

    public static async Task<WebhookReceiver> StartAsync(int? port, params HttpStatusCode[] answers)
    {
        var app = LoopbackApp.Build();
        if (port is { } p)
        {
            app.Urls.Clear();
            app.Urls.Add($"http://127.0.0.1:{p}");
        }
        var receiver = new WebhookReceiver(app, answers);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            var status = receiver._answers.TryDequeue(out var s) ? s : HttpStatusCode.OK;
            var received = new ReceivedDelivery(request.Headers["X-Baton-Event"].ToString(), request.Headers["X-Baton-Delivery"].ToString(),
                request.Headers["X-Baton-Signature"].ToString(), body, (int)status);
            receiver.All.Enqueue(received);
            await receiver._received.Writer.WriteAsync(received);
            return Results.StatusCode((int)status);
        });
        await app.StartAsync();
        return receiver;
    }

    public async Task<ReceivedDelivery> NextAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await _received.Reader.ReadAsync(timeout.Token);
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One request the receiver got: the X-Baton-Event, -Delivery and -Signature headers, the body, and the status it answered.</summary>
public sealed record ReceivedDelivery(string Event, string DeliveryId, string Signature, string Body, int AnsweredWith);
