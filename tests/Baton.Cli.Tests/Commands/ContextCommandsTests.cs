using System.Text.Json;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton context ...`: named servers in a config file, and client commands that use them.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ContextCommandsTests(SharedServer shared) : IDisposable
{
    private readonly TempDir _home = new();

    public void Dispose() => _home.Dispose();

    private string ConfigPath => Path.Combine(_home.Path, "config.json");

    /// <summary>A shell with a config file and no BATON_URL: only a context can point at the server.</summary>
    private Dictionary<string, string> Shell => new() { ["BATON_CONFIG"] = ConfigPath, ["BATON_DATA_DIR"] = Path.Combine(_home.Path, "no-local-up") };

    private Task<BatonResult> Baton(params string[] args) => BatonProcess.RunAsync(_home.Path, Shell, args);

    [Fact]
    public async Task A_context_in_use_decides_where_commands_connect_and_with_which_key()
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(shared.Server.DataDir, "admin.token"))).Trim();
        var unreachable = $"http://127.0.0.1:{BatonProcess.FreePort()}";

        (await Baton("context", "add", "shared", "--url", shared.Server.Url, "--token", token)).Succeeds();
        (await Baton("context", "add", "dead", "--url", unreachable, "--use")).Succeeds();

        Assert.Contains("cannot reach Baton at " + unreachable, (await Baton("run", "list")).FailsWithOneLine(ExitCodes.Failure), StringComparison.Ordinal);
        (await Baton("run", "list", "--context", "shared")).Succeeds();
        (await Baton("context", "use", "shared")).Succeeds();
        (await Baton("profile", "list")).Succeeds();

        var listed = JsonSerializer.Deserialize<JsonElement>((await Baton("context", "list", "--json")).Succeeds().Stdout);
        Assert.Equal(
            [("dead", false, false), ("shared", true, true)],
            listed.EnumerateArray().Select(c => (c.GetProperty("name").GetString(), c.GetProperty("has_token").GetBoolean(), c.GetProperty("current").GetBoolean())));
        Assert.Matches("\\* +shared +http://127\\.0\\.0\\.1:[0-9]+ +saved", (await Baton("context", "list")).Succeeds().Stdout);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigPath));
        }
    }

    [Fact]
    public async Task A_context_key_is_not_sent_to_another_url()
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(shared.Server.DataDir, "admin.token"))).Trim();
        (await Baton("context", "add", "shared", "--url", $"http://127.0.0.1:{BatonProcess.FreePort()}", "--token", token, "--use")).Succeeds();

        var result = await Baton("run", "list", "--url", shared.Server.Url);

        Assert.Contains("no key was sent", result.FailsWithOneLine(ExitCodes.Auth), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_contexts_are_usage_errors_and_remove_forgets_one()
    {
        Assert.Contains("--context names no context 'nope'", (await Baton("run", "list", "--context", "nope")).FailsWithOneLine(ExitCodes.Usage), StringComparison.Ordinal);
        Assert.Contains("no context 'nope'", (await Baton("context", "use", "nope")).FailsWithOneLine(ExitCodes.NotFound), StringComparison.Ordinal);

        (await Baton("context", "add", "old", "--url", "https://old.example.com", "--use")).Succeeds();
        (await Baton("context", "remove", "old")).Succeeds();

        Assert.StartsWith("No contexts", (await Baton("context", "list")).Succeeds().Stdout, StringComparison.Ordinal);
        (await Baton("context", "remove", "old")).FailsWithOneLine(ExitCodes.NotFound);
    }
}
