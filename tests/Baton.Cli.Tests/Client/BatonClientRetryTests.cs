using System.Net;
using System.Text;
using Baton.Client;

namespace Baton.Cli.Tests.Client;

/// <summary>
/// Which requests <see cref="BatonClient"/> repeats, and how: against a scripted HTTP handler, because the
/// failures that matter here (a 503 mid-restart, a dropped connection) cannot be had from a healthy server on cue.
/// </summary>
public sealed class BatonClientRetryTests
{
    private static readonly RetryPolicy Fast = new(3, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(2));

    private const string RunList = """{"runs":[],"total":0,"limit":50,"offset":0}""";

    private const string Run = """
        {"run_id":"run_1","profile":"p","project_name":null,"status":"running","current_phase":"a","iteration":1,"mode":"auto","waiting_for":null,
         "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","cost_usd":0,"tokens_used":0,"intake":"x","error":null,
         "budget_usd":null,"created_by":"me","completed_at":null,"version":1,"phases":[],"step_timestamps":{}}
        """;

    private static (BatonClient Client, ScriptedHandler Handler) Client(params Func<HttpRequestMessage, HttpResponseMessage>[] answers)
    {
        var handler = new ScriptedHandler(answers);
        return (new BatonClient(new HttpClient(handler) { BaseAddress = new Uri("http://baton.test/") }) { Retry = Fast }, handler);
    }

    private static HttpResponseMessage Status(HttpStatusCode status, string? retryAfter = null)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = new StringContent($$"""{"title":"{{status}}","status":{{(int)status}},"detail":"try later"}""", Encoding.UTF8, "application/problem+json"),
        };
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }
        return response;
    }

    private static HttpResponseMessage Json(string body) => new(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static HttpResponseMessage Refused(HttpRequestMessage _) =>
        throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused");

    [Fact]
    public async Task A_get_is_tried_again_after_a_5xx_a_429_and_a_refused_connection()
    {
        var (client, handler) = Client(_ => Status(HttpStatusCode.ServiceUnavailable), _ => Status(HttpStatusCode.TooManyRequests, "0"), _ => Json(RunList));

        var list = await client.ListRunsAsync();

        Assert.Equal(0, list.Total);
        Assert.Equal(3, handler.Requests.Count);
        var (again, refused) = Client(Refused, _ => Json(RunList));
        await again.ListRunsAsync();
        Assert.Equal(2, refused.Requests.Count);
    }

    [Fact]
    public async Task Retries_are_bounded_and_the_last_problem_is_thrown_with_its_detail()
    {
        var (client, handler) = Client(_ => Status(HttpStatusCode.BadGateway), _ => Status(HttpStatusCode.BadGateway), _ => Status(HttpStatusCode.BadGateway), _ => Json(RunList));

        var error = await Assert.ThrowsAsync<BatonApiException>(() => client.ListRunsAsync());

        Assert.Equal((HttpStatusCode.BadGateway, "try later"), (error.Status, error.Detail));
        Assert.Equal(3, handler.Requests.Count);
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_longest_wait_is_answered_at_once()
    {
        var (client, handler) = Client(_ => Status(HttpStatusCode.TooManyRequests, "120"), _ => Json(RunList));

        var error = await Assert.ThrowsAsync<BatonApiException>(() => client.ListRunsAsync());

        Assert.Equal(TimeSpan.FromSeconds(120), error.RetryAfter);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Decisions_are_never_repeated()
    {
        var (client, handler) = Client(_ => Status(HttpStatusCode.ServiceUnavailable), _ => Json(Run));

        await Assert.ThrowsAsync<BatonApiException>(() => client.ApproveAsync("run_1"));
        await Assert.ThrowsAsync<HttpRequestException>(() => Client(Refused, _ => Json(Run)).Client.CancelAsync("run_1"));

        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Creating_a_run_is_repeated_only_with_an_idempotency_key_and_with_the_same_key()
    {
        var (withoutKey, once) = Client(_ => Status(HttpStatusCode.ServiceUnavailable), _ => Json(Run));
        await Assert.ThrowsAsync<BatonApiException>(() => withoutKey.CreateRunAsync(new CreateRunRequest("p", "x")));
        Assert.Single(once.Requests);

        var (withKey, twice) = Client(_ => Status(HttpStatusCode.ServiceUnavailable), _ => Json(Run));
        var run = await withKey.CreateRunAsync(new CreateRunRequest("p", "x"), "key-1");

        Assert.Equal("run_1", run.RunId);
        Assert.Equal(["key-1", "key-1"], twice.Requests.Select(r => r.Headers.GetValues("Idempotency-Key").Single()));
        Assert.All(twice.Requests, r => Assert.Equal("""{"profile":"p","intake":"x","project_name":null,"mode":null,"budget_usd":null,"repository_id":null}""", r.Body));
    }

    [Fact]
    public async Task Field_errors_of_a_problem_are_on_the_exception()
    {
        var (client, _) = Client(_ => new HttpResponseMessage(HttpStatusCode.BadRequest)
        {
            Content = new StringContent("""{"title":"Invalid input","status":400,"detail":"feedback is required","errors":{"feedback":["feedback is required"]}}""", Encoding.UTF8, "application/problem+json"),
        });

        var error = await Assert.ThrowsAsync<BatonApiException>(() => client.RejectAsync("run_1", ""));

        Assert.Equal(["feedback is required"], error.Errors["feedback"]);
        Assert.Equal("Invalid input", error.Title);
    }

    [Fact]
    public async Task An_event_stream_that_drops_is_resumed_after_the_last_event_seen()
    {
        static string Event(long seq) => $"id: {seq}\nevent: phase.started\ndata: {{\"seq\":{seq},\"run_id\":\"run_1\",\"type\":\"phase.started\",\"phase\":\"a\",\"iteration\":1,\"actor\":null,\"data\":null,\"created_at\":\"2026-01-01T00:00:00Z\"}}\n\n";
        var (client, handler) = Client(
            _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BreakingStream(Encoding.UTF8.GetBytes(Event(1) + Event(2)))) },
            _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Event(3) + ": keep-alive\n\n", Encoding.UTF8, "text/event-stream") });

        var seen = new List<long>();
        await foreach (var e in client.StreamRunEventsAsync("run_1"))
        {
            seen.Add(e.Seq);
        }

        Assert.Equal([1, 2, 3], seen);
        Assert.False(handler.Requests[0].Headers.Contains("Last-Event-ID"));
        Assert.Equal("2", handler.Requests[1].Headers.GetValues("Last-Event-ID").Single());
    }

    /// <summary>A recorded request: its headers and body, read before the client disposes it.</summary>
    private sealed record Seen(System.Net.Http.Headers.HttpRequestHeaders Headers, string? Body);

    private sealed class ScriptedHandler(Func<HttpRequestMessage, HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        public List<Seen> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(new Seen(request.Headers, request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken)));
            return answers[Requests.Count - 1](request);
        }
    }

    /// <summary>Gives its bytes, then fails as a dropped connection does.</summary>
    private sealed class BreakingStream(byte[] content) : MemoryStream(content)
    {
        public override int Read(byte[] buffer, int offset, int count) => Check(base.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Check(await base.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Check(await base.ReadAsync(buffer, offset, count, cancellationToken));

        private static int Check(int read) => read > 0 ? read : throw new IOException("connection reset by peer");
    }
}
