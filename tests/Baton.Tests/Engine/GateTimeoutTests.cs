using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Engine;

/// <summary>Gate timeouts on a manual clock: time moves when the test says, nothing sleeps.</summary>
public class GateTimeoutTests
{
    [Theory]
    [InlineData("expire", "expired", 1)]
    [InlineData("approve", "completed", 1)]
    [InlineData("reject", "awaiting_approval", 2)]
    public async Task An_undecided_gate_does_what_the_profile_says_when_its_timeout_passes(string onTimeout, string status, int iteration)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero));
        using var factory = new BatonFactory(clock, profiles: new Dictionary<string, string> { ["gated"] = TestProfiles.Gated.Replace("OUTCOME", onTimeout, StringComparison.Ordinal) });
        var client = factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("gated", "x"));
        var gate = await client.WaitForGateAsync(run.RunId, "draft", 1);
        Assert.Equal(clock.GetUtcNow().AddHours(1), gate.Phases[0].Approval!.Deadline);

        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal("awaiting_approval", (await client.GetRunAsync(run.RunId)).Status);

        clock.Advance(TimeSpan.FromMinutes(2));
        var after = await client.WaitForAsync(run.RunId, r => r.Status == status && r.Iteration == iteration, $"{status} at iteration {iteration}");
        var decided = after.Phases.First(p => p.Name == "draft").Approval!;
        Assert.Equal("system", decided.Actor);
        Assert.Equal(onTimeout == "expire" ? "expired" : onTimeout == "approve" ? "approved" : "rejected", decided.Status);
    }

    [Fact]
    public async Task The_default_gate_timeout_is_seven_days()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero));
        using var factory = new BatonFactory(clock);
        var client = factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("software_delivery", "x"));
        var gate = await client.WaitForGateAsync(run.RunId, "design", 1);
        Assert.Equal(clock.GetUtcNow().AddDays(7), gate.Phases.Single(p => p.Name == "design").Approval!.Deadline);
        clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromSeconds(1));
        await client.WaitForStatusAsync(run.RunId, "expired");
    }
}
