using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Gates;

/// <summary>remind_after on a manual clock: `gate.reminded` while the gate waits, and never after it is decided.</summary>
public class GateReminderTests
{
    /// <summary>A gate that waits a day and reminds every 4 hours.</summary>
    public const string Reminded = """
        name: reminded
        phases:
          - name: draft
            produces: [draft.md]
            gate:
              timeout: 1d
              remind_after: 4h
          - name: publish
            produces: [published.md]
        """;

    [Fact]
    public async Task A_waiting_gate_is_reminded_every_interval_until_it_is_decided()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
        using var factory = new BatonFactory(clock, profiles: new Dictionary<string, string> { ["reminded"] = Reminded });
        var client = factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("reminded", "x"));
        await client.WaitForGateAsync(run.RunId, "draft", 1);

        clock.Advance(TimeSpan.FromHours(4) + TimeSpan.FromSeconds(1));
        var first = await client.EventsUntilAsync(run.RunId, "gate.reminded");
        Assert.Equal("system", first[^1].Actor);

        clock.Advance(TimeSpan.FromHours(4));
        var reminders = await ReminderCountAsync(client, run.RunId, 2);
        Assert.Equal(2, reminders);

        await client.ApproveAsync(run.RunId);
        await client.WaitForStatusAsync(run.RunId, "completed");
        clock.Advance(TimeSpan.FromHours(8));
        var events = await client.EventsOfAsync(run.RunId);
        Assert.Equal(2, events.Count(e => e.Type == "gate.reminded"));
        Assert.True(events.FindIndex(e => e.Type == "gate.reminded") < events.FindIndex(e => e.Type == "gate.approved"));
    }

    /// <summary>Reads the run's events until <paramref name="wanted"/> reminders are there (the stream waits for them; no sleeping).</summary>
    private static async Task<int> ReminderCountAsync(BatonClient client, string runId, int wanted)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = 0;
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            if (e.Type == "gate.reminded" && ++seen == wanted)
            {
                return seen;
            }
        }
        return seen;
    }
}
