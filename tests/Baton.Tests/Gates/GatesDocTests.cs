using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Profiles;
using Baton.Tests.Support;

namespace Baton.Tests.Gates;

/// <summary>docs/gates.md stays true: its team profile validates with the server's parser and its Slack webhook call is accepted.</summary>
public sealed partial class GatesDocTests
{
    private static string Doc()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
        {
            dir = dir.Parent;
        }
        return File.ReadAllText(Path.Combine(dir!.FullName, "docs", "gates.md"));
    }

    /// <summary>The first fenced block of <paramref name="language"/> after the heading <paramref name="heading"/>.</summary>
    private static string Block(string heading, string language)
    {
        var doc = Doc();
        var section = doc[(doc.IndexOf("\n" + heading + "\n", StringComparison.Ordinal) + 1)..];
        var start = section.IndexOf("```" + language + "\n", StringComparison.Ordinal) + language.Length + 4;
        return section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
    }

    [Fact]
    public void The_team_profile_validates_with_two_approvers_one_from_security_no_self_approval_a_form_and_a_reminder()
    {
        var (profile, errors) = ProfileParser.Parse(Block("## A team profile", "yaml"), "docs/gates.md");
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var gate = profile!.Phase("implement")!.Gate!;
        Assert.Equal(2, gate.Approvals);
        Assert.Equal(new Dictionary<string, int> { ["security"] = 1 }, gate.RequiredGroups);
        Assert.False(gate.SelfApproval);
        Assert.Equal(TimeSpan.FromHours(4), gate.RemindAfter);
        Assert.Contains(gate.Inputs, i => i is { Name: "ticket", Required: true });
        Assert.Contains("{{gate.implement.ticket}}", profile.Phase("release_notes")!.Templates.Values.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_loads_the_team_profile_and_takes_the_slack_webhook_as_shown()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["team_delivery"] = Block("## A team profile", "yaml") });
        var profiles = await factory.Client().ListProfilesAsync();
        Assert.Empty(profiles.Errors);
        Assert.Contains(profiles.Profiles, p => p.Name == "team_delivery");
        // The policy is part of the profile as the API shows it, so a client can say who will have to decide.
        var gate = (await factory.Client().GetProfileAsync("team_delivery")).Phases.Single(p => p.Name == "implement").Gate!;
        Assert.Equal((2, "deny", 1), (gate.Approvals, gate.SelfApproval, gate.RequiredGroups!["security"]));
        Assert.NotNull(gate.RemindAfter);
        Assert.NotEmpty(gate.Inputs!);
        Assert.Equal(["role:approver"], gate.Approvers!);

        var call = Block("## Slack", "sh");
        Assert.Contains("/api/webhooks", call, StringComparison.Ordinal);
        var json = JsonBody().Match(call).Groups[1].Value;
        var response = await factory.Http().PostAsync("/api/webhooks", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var webhook = (await factory.Http().GetFromJsonAsync<WebhookList>("/api/webhooks", BatonJson.Options))!.Webhooks.Single();
        Assert.StartsWith("https://hooks.slack.com/services/", webhook.Url, StringComparison.Ordinal);
        Assert.Contains("gate.reminded", webhook.Events);
    }

    [GeneratedRegex(@"-d '\s*(\{.*\})'", RegexOptions.Singleline)]
    private static partial Regex JsonBody();
}
