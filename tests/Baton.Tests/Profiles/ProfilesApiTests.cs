using System.Net;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Profiles;

public sealed class ProfilesApiTests : IDisposable
{
    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string>
    {
        ["mine"] = "name: mine\nphases:\n  - name: only\n    produces: [x.md]\n",
        ["broken"] = "name: broken\nphases:\n  - name: a\n    gate:\n      timeout: forever\n",
    });

    [Fact]
    public async Task Lists_built_in_and_user_profiles_and_every_error_with_file_and_line()
    {
        var list = await _factory.Client().ListProfilesAsync();
        Assert.Equal(["mine", "planning_rail", "pm_architect_engineer_qa", "software_delivery"], list.Profiles.Select(p => p.Name));
        Assert.Equal("user", list.Profiles.Single(p => p.Name == "mine").Source);
        Assert.Equal("builtin", list.Profiles.Single(p => p.Name == "software_delivery").Source);
        var error = Assert.Single(list.Errors);
        Assert.EndsWith("broken.yaml", error.File, StringComparison.Ordinal);
        Assert.Equal(5, error.Line);
        Assert.Contains("duration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shows_one_profile_in_full_and_404s_an_unknown_one()
    {
        var detail = await _factory.Client().GetProfileAsync("software_delivery");
        var design = detail.Phases.Single(p => p.Name == "design");
        Assert.Equal(("7d", "expire"), (design.Gate!.Timeout, design.Gate.OnTimeout));
        Assert.Equal(["design", "discovery"], design.Gate.RejectTo);
        Assert.Equal("implementation", detail.Phases.Single(p => p.Name == "test").RetryFrom);
        Assert.Contains("name: software_delivery", detail.Yaml, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<BatonApiException>(() => _factory.Client().GetProfileAsync("broken"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
    }

    [Fact]
    public async Task A_profile_edited_on_disk_is_picked_up_without_a_restart_and_runs_keep_their_version()
    {
        var client = _factory.Client();
        var run = await client.CreateRunAsync(new CreateRunRequest("mine", "x"));
        await client.WaitForStatusAsync(run.RunId, "completed");
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "mine.yaml"),
            "name: mine\nphases:\n  - name: only\n    produces: [x.md]\n  - name: extra\n    produces: [y.md]\n");
        Assert.Equal(["only", "extra"], (await client.GetProfileAsync("mine")).Phases.Select(p => p.Name));
        Assert.Equal(["only"], (await client.GetRunAsync(run.RunId)).Phases.Select(p => p.Name));
    }

    [Fact]
    public async Task A_user_profile_with_a_yaml_syntax_error_is_listed_with_its_line_and_column()
    {
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", "unclosed.yaml"), "name: unclosed\nphases:\n  - name: [a\n    worker: template\n");

        var response = await _factory.Http().GetAsync("/api/profiles");
        var list = await _factory.Client().ListProfilesAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var error = Assert.Single(list.Errors, e => e.File == "unclosed.yaml");
        Assert.Equal((4, 5), (error.Line, error.Column));
        Assert.StartsWith("invalid YAML: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("mine", list.Profiles.Select(p => p.Name));
    }

    [Fact]
    public async Task Viewers_see_profile_file_names_not_the_servers_paths()
    {
        File.CreateSymbolicLink(Path.Combine(_factory.DataDir, "profiles", "dangling.yaml"), Path.Combine(_factory.DataDir, "no-such-file"));
        var viewer = await _factory.ClientAsAsync("viewer");

        var list = await viewer.ListProfilesAsync();
        var body = await _factory.Http().GetStringAsync("/api/profiles");

        Assert.Equal(["broken.yaml", "dangling.yaml"], list.Errors.Select(e => e.File).Order(StringComparer.Ordinal));
        Assert.Contains(list.Errors, e => e.File == "dangling.yaml" && e.Message.StartsWith("cannot read", StringComparison.Ordinal));
        Assert.DoesNotContain(_factory.DataDir, body, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetFileName(_factory.DataDir), body, StringComparison.Ordinal);
    }

    public void Dispose() => _factory.Dispose();
}
