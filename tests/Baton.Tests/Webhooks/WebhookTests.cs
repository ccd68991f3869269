using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Support;
using Baton.Webhooks;
using Microsoft.AspNetCore.Http;

namespace Baton.Tests.Webhooks;

/// <summary>Webhooks against a local receiver: signed, retried under one delivery id, and kept across a SIGKILL.</summary>
public sealed class WebhookTests
{
    private const string Secret = "a-webhook-secret-of-32-characters";

    [Fact]
    public async Task A_gate_and_a_completion_reach_the_receiver_signed_with_the_run_the_gate_and_a_line_of_text()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var factory = new ApiFactory();
        factory.Settings["BATON_PUBLIC_URL"] = "https://baton.example.com/";
        var http = factory.Http();
        var created = await http.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, secret = Secret, events = new[] { "gate.opened", "run.completed" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var client = factory.Client();

        var runId = (await client.CreateRunAsync(new CreateRunRequest("gated", "ship it"))).RunId;
        var opened = await receiver.NextAsync();
        Assert.Equal("gate.opened", opened.Event);
        Assert.Equal(WebhookDeliveries.Signature(Secret, opened.Body), opened.Signature);
        using (var body = JsonDocument.Parse(opened.Body))
        {
            var root = body.RootElement;
            Assert.Equal(opened.DeliveryId, root.GetProperty("delivery_id").GetString());
            Assert.Equal(runId, root.GetProperty("run").GetProperty("id").GetString());
            Assert.Equal("gated", root.GetProperty("run").GetProperty("profile").GetString());
            Assert.Equal("draft", root.GetProperty("gate").GetProperty("phase").GetString());
            Assert.Equal($"https://baton.example.com/runs/{runId}", root.GetProperty("url").GetString());
            Assert.Equal($"Run {runId} (gated) waits for approval after phase draft <https://baton.example.com/runs/{runId}>", root.GetProperty("text").GetString());
        }

        await client.ApproveAsync(runId);
        var completed = await receiver.NextAsync();
        Assert.Equal("run.completed", completed.Event);
        Assert.Equal(WebhookDeliveries.Signature(Secret, completed.Body), completed.Signature);
        Assert.NotEqual(opened.DeliveryId, completed.DeliveryId);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(completed.Body).RootElement.GetProperty("gate").ValueKind);
        // Not signed with another secret: the receiver can tell a forgery.
        Assert.NotEqual(WebhookDeliveries.Signature("another-secret-of-some-length", completed.Body), completed.Signature);
    }

    [Fact]
    public async Task A_waiting_gate_with_remind_after_sends_gate_reminded_signed_by_the_real_remind_gate_job()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
        using var factory = new BatonFactory(clock, profiles: new Dictionary<string, string> { ["reminded"] = Gates.GateReminderTests.Reminded });
        factory.Settings["BATON_PUBLIC_URL"] = "https://baton.example.com";
        var http = factory.Http();
        var created = await http.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, secret = Secret, events = new[] { "gate.reminded" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var webhookId = (await created.Content.ReadFromJsonAsync<WebhookInfo>(BatonJson.Options))!.WebhookId;
        var client = factory.Client();
        var runId = (await client.CreateRunAsync(new CreateRunRequest("reminded", "x"))).RunId;
        await client.WaitForGateAsync(runId, "draft", 1);

        clock.Advance(TimeSpan.FromHours(4) + TimeSpan.FromSeconds(1));
        var first = await receiver.NextAsync();
        Assert.Equal("gate.reminded", first.Event);
        Assert.Equal(WebhookDeliveries.Signature(Secret, first.Body), first.Signature);
        using (var body = JsonDocument.Parse(first.Body))
        {
            var root = body.RootElement;
            Assert.Equal((runId, "draft", 1), (root.GetProperty("run").GetProperty("id").GetString(), root.GetProperty("gate").GetProperty("phase").GetString(),
                root.GetProperty("gate").GetProperty("iteration").GetInt32()));
            Assert.Equal($"Reminder: Run {runId} (reminded) still waits for approval after phase draft <https://baton.example.com/runs/{runId}>", root.GetProperty("text").GetString());
            Assert.Equal(("system", "4h"), (root.GetProperty("actor").GetString(), root.GetProperty("data").GetProperty("remind_after").GetString()));
        }

        // The next reminder is a delivery of its own; gate.opened was not subscribed to and never came. (The clock
        // moves on only after the first delivery is recorded: jumping 4 h past its 30 s lease mid-POST would hand the
        // job to another worker, which sends it again under the same id, as at-least-once delivery does.)
        await WaitForAsync(http, webhookId, d => d.DeliveryId == first.DeliveryId && d.Status == "delivered");
        clock.Advance(TimeSpan.FromHours(4));
        var second = await receiver.NextAsync();
        Assert.Equal(("gate.reminded", WebhookDeliveries.Signature(Secret, second.Body)), (second.Event, second.Signature));
        Assert.NotEqual(first.DeliveryId, second.DeliveryId);
        var deliveries = await WaitForAsync(http, webhookId, d => d.DeliveryId == second.DeliveryId && d.Status == "delivered");
        Assert.Equal(2, deliveries.Count);
        Assert.Equal([first.DeliveryId, second.DeliveryId], receiver.All.Select(r => r.DeliveryId));
        Assert.All(receiver.All, r => Assert.Equal("gate.reminded", r.Event));
    }

    [Fact]
    public async Task A_receiver_that_answers_500_twice_gets_the_same_delivery_a_third_time_and_the_run_does_not_wait_for_it()
    {
        await using var receiver = await WebhookReceiver.StartAsync(HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError);
        using var factory = new ApiFactory();
        var http = factory.Http();
        var webhook = await (await http.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, secret = Secret, events = new[] { "run.completed" } }))
            .Content.ReadFromJsonAsync<WebhookInfo>(BatonJson.Options);
        var client = factory.Client();

        var runId = (await client.CreateRunAsync(new CreateRunRequest("straight", "x"))).RunId;
        var run = await client.WaitForStatusAsync(runId, "completed");
        Assert.Equal("completed", run.Status);
        var attempts = new[] { await receiver.NextAsync(), await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal([500, 500, 200], attempts.Select(a => a.AnsweredWith));
        Assert.Single(attempts.Select(a => a.DeliveryId).Distinct());
        Assert.Single(attempts.Select(a => a.Body).Distinct());

        var deliveries = await WaitForAsync(http, webhook!.WebhookId, d => d.Status == "delivered");
        var delivery = Assert.Single(deliveries);
        Assert.Equal((attempts[0].DeliveryId, "run.completed", runId, 3, 200), (delivery.DeliveryId, delivery.Event, delivery.RunId, delivery.Attempts, delivery.LastStatusCode));

        var families = Ops.PrometheusText.Parse(await http.GetStringAsync("/metrics"));
        var counted = families["baton_webhook_attempts_total"].Samples
            .ToDictionary(s => s.Labels["result"], s => s.Value);
        Assert.Equal(("counter", 2.0, 1.0), (families["baton_webhook_attempts_total"].Type, counted["retrying"], counted["delivered"]));
    }

    [Fact]
    public async Task A_server_killed_before_a_delivery_delivers_it_after_its_restart_once()
    {
        var dataDir = Directory.CreateTempSubdirectory("baton-webhook-").FullName;
        const string token = "webhook-test-admin-token-0001";
        try
        {
            // The receiver is not listening yet: every attempt before the kill fails to connect.
            var port = WebhookReceiver.FreePort();
            Directory.CreateDirectory(Path.Combine(dataDir, "profiles"));
            File.WriteAllText(Path.Combine(dataDir, "profiles", "straight.yaml"), TestProfiles.Straight);
            string webhookId;
            using (var first = await ServerProcess.StartAsync(dataDir, token))
            {
                using var http = new HttpClient { BaseAddress = first.Url };
                http.DefaultRequestHeaders.Authorization = new("Bearer", token);
                var webhook = await (await http.PostAsJsonAsync("/api/webhooks", new { url = $"http://127.0.0.1:{port}/hook", secret = Secret, events = new[] { "run.completed" } }))
                    .Content.ReadFromJsonAsync<WebhookInfo>(BatonJson.Options);
                webhookId = webhook!.WebhookId;
                var client = first.Client(token);
                var runId = (await client.CreateRunAsync(new CreateRunRequest("straight", "x"))).RunId;
                await client.WaitForStatusAsync(runId, "completed");
                var failing = await WaitForAsync(http, webhookId, d => d.Attempts >= 1);
                Assert.Equal("pending", Assert.Single(failing).Status);
                first.KillHard();
            }

            await using var receiver = await WebhookReceiver.StartAsync(port);
            using var second = await ServerProcess.StartAsync(dataDir, token);
            var delivered = await receiver.NextAsync();
            Assert.Equal(("run.completed", WebhookDeliveries.Signature(Secret, delivered.Body)), (delivered.Event, delivered.Signature));
            using (var http = new HttpClient { BaseAddress = second.Url })
            {
                http.DefaultRequestHeaders.Authorization = new("Bearer", token);
                var done = Assert.Single(await WaitForAsync(http, webhookId, d => d.Status == "delivered"));
                Assert.Equal(delivered.DeliveryId, done.DeliveryId);
            }
            Assert.Equal([delivered.DeliveryId], receiver.All.Select(r => r.DeliveryId).Distinct());
            Assert.Single(receiver.All);
            second.KillHard();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestDatabase.Drop(dataDir);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"secret":"a-webhook-secret-of-32-characters","events":["run.completed"]}""", "url")]
    [InlineData("""{"url":"/relative","secret":"a-webhook-secret-of-32-characters","events":["run.completed"]}""", "url")]
    [InlineData("""{"url":"ftp://example.com/x","secret":"a-webhook-secret-of-32-characters","events":["run.completed"]}""", "url")]
    [InlineData("""{"url":"https://user:pw@example.com/x","secret":"a-webhook-secret-of-32-characters","events":["run.completed"]}""", "url")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed"]}""", "secret")]
    [InlineData("""{"url":"https://example.com/x","secret":"short","events":["run.completed"]}""", "secret")]
    [InlineData("""{"url":"https://example.com/x","secret":"a-webhook-secret-of-32-characters"}""", "events")]
    [InlineData("""{"url":"https://example.com/x","secret":"a-webhook-secret-of-32-characters","events":[]}""", "events")]
    [InlineData("""{"url":"https://example.com/x","secret":"a-webhook-secret-of-32-characters","events":["run.exploded"]}""", "events")]
    [InlineData("""{"url":"https://example.com/x","secret":"a-webhook-secret-of-32-characters","events":[null]}""", "events")]
    public async Task A_webhook_with_a_bad_field_is_400_naming_it(string json, string field)
    {
        using var factory = new BatonFactory();
        var response = await factory.Http().PostAsync("/api/webhooks", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
        Assert.Empty((await factory.Http().GetFromJsonAsync<WebhookList>("/api/webhooks", BatonJson.Options))!.Webhooks);
    }

    [Fact]
    public async Task Malformed_oversized_unknown_and_unauthorized_requests_are_refused_without_a_500()
    {
        using var factory = new BatonFactory();
        var http = factory.Http();
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/api/webhooks", new StringContent("{\"url\":", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/api/webhooks", new StringContent("""{"url":5}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        var longUrl = "https://example.com/" + new string('a', 3000);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/webhooks", new { url = longUrl, secret = Secret, events = new[] { "run.failed" } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/webhooks", new { url = "https://example.com/x", secret = new string('s', 300), events = new[] { "run.failed" } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/webhooks", new { url = "https://example.com/x", secret = Secret, events = Enumerable.Repeat("run.failed", 21) })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync("/api/webhooks/whk_nothing")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/webhooks/whk_nothing/deliveries")).StatusCode);

        var created = await (await http.PostAsJsonAsync("/api/webhooks", new { url = "https://example.com/x", secret = Secret, events = new[] { "run.failed", "run.failed" } }))
            .Content.ReadFromJsonAsync<WebhookInfo>(BatonJson.Options);
        Assert.Equal(["run.failed"], created!.Events);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"/api/webhooks/{created.WebhookId}/deliveries?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"/api/webhooks/{created.WebhookId}/deliveries?limit=abc")).StatusCode);
        Assert.DoesNotContain(Secret, await http.GetStringAsync("/api/webhooks"), StringComparison.Ordinal);

        var approver = await factory.Client().CreateKeyAsync(new CreateKeyRequest("ops", "approver"));
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.Http(approver.Token).GetAsync("/api/webhooks")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.Http(approver.Token).PostAsJsonAsync("/api/webhooks", new { url = "https://example.com/y", secret = Secret, events = new[] { "run.failed" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.Http(token: null).GetAsync("/api/webhooks")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/webhooks/{created.WebhookId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/webhooks/{created.WebhookId}")).StatusCode);
    }

    /// <summary>The webhook's deliveries once one matches <paramref name="done"/> (polling the API: a delivery's attempts are not events).</summary>
    private static async Task<IReadOnlyList<WebhookDeliveryInfo>> WaitForAsync(HttpClient http, string webhookId, Func<WebhookDeliveryInfo, bool> done)
    {
        IReadOnlyList<WebhookDeliveryInfo> list = [];
        if (!await Eventually.HoldsAsync(async () => (list = (await http.GetFromJsonAsync<WebhookDeliveryList>($"/api/webhooks/{webhookId}/deliveries", BatonJson.Options))!.Deliveries).Any(done),
            TimeSpan.FromSeconds(60)))
        {
            Assert.Fail($"no delivery of {webhookId} came to that: {JsonSerializer.Serialize(list)}");
        }
        return list;
    }
}
