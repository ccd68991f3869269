using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton profile list|show` and `baton key create|list|revoke` against a real server, and roles as the API enforces them.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ProfileAndKeyCommandsTests(SharedServer shared)
{
    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    [Fact]
    public async Task Profile_list_and_show()
    {
        var list = JsonSerializer.Deserialize<ProfileList>((await Baton("profile", "list", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var table = (await Baton("profile", "list")).Succeeds().Stdout;
        var show = (await Baton("profile", "show", "software_delivery")).Succeeds().Stdout;
        var yaml = (await Baton("profile", "show", "software_delivery", "--yaml")).Succeeds().Stdout;

        Assert.Contains(list.Profiles, p => p.Name == "software_delivery" && p.Source == "builtin");
        Assert.Contains(list.Profiles, p => p.Name == SharedServer.FailingProfile);
        Assert.Matches("software_delivery +builtin +auto +3 +discovery > design > implementation > test > document", table);
        Assert.Matches("design +template +tech_spec\\.md +yes \\(7d, then expire; reject to design/discovery\\)", show);
        Assert.StartsWith("name: software_delivery", yaml, StringComparison.Ordinal);
        (await Baton("profile", "show", "nope")).FailsWithOneLine(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Keys_are_created_listed_and_revoked_and_a_viewer_key_cannot_approve()
    {
        var created = (await Baton("key", "create", "--name", "cli-viewer", "--role", "viewer", "--expires-in", "1d", "--json")).Succeeds();
        var key = JsonSerializer.Deserialize<CreatedKey>(created.Stdout, BatonJson.Options)!;
        Assert.Equal(("cli-viewer", "viewer"), (key.Name, key.Role));
        Assert.NotNull(key.ExpiresAt);
        var viewer = new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = key.Token };
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("planning_rail", "x"));

        (await shared.BatonAsync(viewer, "run", "show", run.RunId)).Succeeds();
        var refused = (await shared.BatonAsync(viewer, "run", "approve", run.RunId)).FailsWithOneLine(ExitCodes.Auth);
        Assert.StartsWith("error: Forbidden (403)", refused, StringComparison.Ordinal);
        var noKeys = (await shared.BatonAsync(viewer, "key", "list")).FailsWithOneLine(ExitCodes.Auth);
        Assert.StartsWith("error: Forbidden (403)", noKeys, StringComparison.Ordinal);

        var listed = (await Baton("key", "list")).Succeeds().Stdout;
        Assert.Matches($"{key.KeyId} +cli-viewer +viewer +ok ", listed);
        (await Baton("key", "revoke", key.KeyId)).Succeeds();
        Assert.Matches($"{key.KeyId} +cli-viewer +viewer +revoked ", (await Baton("key", "list")).Succeeds().Stdout);
        var revoked = (await shared.BatonAsync(viewer, "run", "show", run.RunId)).FailsWithOneLine(ExitCodes.Auth);
        Assert.Contains("(the key came from BATON_TOKEN)", revoked, StringComparison.Ordinal);
        Assert.Contains("already revoked", (await Baton("key", "revoke", key.KeyId)).FailsWithOneLine(ExitCodes.Conflict), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_create_for_people_shows_the_token_once()
    {
        var result = (await Baton("key", "create", "--name", "cli-person", "--role", "operator")).Succeeds();

        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Matches("^Created key key_[0-9a-z]+ 'cli-person' \\(operator\\)\\.$", lines[0]);
        Assert.Equal("Token (shown once; store it now):", lines[1]);
        Assert.True(lines[2].Length >= 32);
    }

    [Fact]
    public async Task Key_create_gives_the_key_its_groups()
    {
        var created = (await Baton("key", "create", "--name", "cli-security", "--role", "approver", "--group", "security", "--group", "ops", "--json")).Succeeds();
        var key = JsonSerializer.Deserialize<CreatedKey>(created.Stdout, BatonJson.Options)!;
        Assert.Equal(["security", "ops"], key.Groups!);
        var bad = (await Baton("key", "create", "--name", "cli-bad-group", "--role", "approver", "--group", "Not A Group")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("Not A Group", bad, StringComparison.Ordinal);
    }
}
