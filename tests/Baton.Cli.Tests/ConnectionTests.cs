namespace Baton.Cli.Tests;

/// <summary>Where client commands connect, and with which key: options, then BATON_URL/BATON_TOKEN, then a local `baton up`.</summary>
public sealed class ConnectionTests : IDisposable
{
    private readonly Support.TempDir _dataDir = new();
    private readonly Dictionary<string, string?> _env = [];

    public ConnectionTests()
    {
        _env["BATON_DATA_DIR"] = _dataDir.Path;
        File.WriteAllText(Path.Combine(_dataDir.Path, "admin.token"), "local-admin-key-0123456789\n");
    }

    public void Dispose() => _dataDir.Dispose();

    private Connection Resolve(string? url = null, string? token = null) => Connection.Resolve(url, token, name => _env.GetValueOrDefault(name));

    [Fact]
    public void With_nothing_set_it_is_the_local_baton_up_and_its_key()
    {
        var connection = Resolve();

        Assert.Equal(new Uri("http://127.0.0.1:7070/"), connection.Url);
        Assert.Equal("local-admin-key-0123456789", connection.Token);
        Assert.Contains(Path.Combine(_dataDir.Path, "admin.token"), connection.TokenSource, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_win_over_the_environment()
    {
        _env["BATON_URL"] = "http://env.example:1";
        _env["BATON_TOKEN"] = "env-token";

        var connection = Resolve("http://127.0.0.1:9000", "option-token");

        Assert.Equal(new Uri("http://127.0.0.1:9000/"), connection.Url);
        Assert.Equal("option-token", connection.Token);
    }

    [Fact]
    public void The_environment_wins_over_the_local_key()
    {
        _env["BATON_URL"] = "http://localhost:7171";
        _env["BATON_TOKEN"] = "env-token";

        var connection = Resolve();

        Assert.Equal(new Uri("http://localhost:7171/"), connection.Url);
        Assert.Equal("env-token", connection.Token);
        Assert.Equal("the key came from BATON_TOKEN", connection.TokenSource);
    }

    [Fact]
    public void The_local_admin_key_is_never_sent_to_another_machine()
    {
        var connection = Resolve("https://baton.example.com");

        Assert.Null(connection.Token);
        Assert.Contains("not this machine", connection.TokenSource, StringComparison.Ordinal);
    }

    [Fact]
    public void No_key_file_means_no_key_and_says_how_to_get_one()
    {
        File.Delete(Path.Combine(_dataDir.Path, "admin.token"));

        var connection = Resolve();

        Assert.Null(connection.Token);
        Assert.Contains("baton up", connection.TokenSource, StringComparison.Ordinal);
    }

    [Fact]
    public void A_path_prefix_is_kept_for_relative_api_paths()
    {
        var connection = Resolve("http://127.0.0.1:8080/baton");

        Assert.Equal("http://127.0.0.1:8080/baton/api/runs", new Uri(connection.Url, "api/runs").AbsoluteUri);
        Assert.Equal("http://127.0.0.1:8080/baton", connection.DisplayUrl);
    }

    [Theory]
    [InlineData("localhost:7070")]
    [InlineData("ftp://127.0.0.1")]
    [InlineData("not a url")]
    public void A_url_that_is_not_http_is_a_usage_error(string url)
    {
        var error = Assert.Throws<CliException>(() => Resolve(url));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith("--url must be", error.Message, StringComparison.Ordinal);
    }

    private string SaveContexts(string? current, params (string Name, string Url, string? Token)[] contexts)
    {
        var path = Path.Combine(_dataDir.Path, "config.json");
        var config = new CliConfig { CurrentContext = current };
        foreach (var (name, url, token) in contexts)
        {
            config.Contexts[name] = new ContextEntry(url, token);
        }
        config.Save(path);
        _env["BATON_CONFIG"] = path;
        return path;
    }

    [Fact]
    public void The_current_context_is_used_when_nothing_else_is_set()
    {
        var path = SaveContexts("prod", ("prod", "https://baton.example.com", "prod-token"), ("dev", "http://127.0.0.1:9999", null));

        var connection = Resolve();

        Assert.Equal(new Uri("https://baton.example.com/"), connection.Url);
        Assert.Equal("prod-token", connection.Token);
        Assert.Equal($"the key came from context 'prod' in {path}", connection.TokenSource);
        Assert.Equal("prod", connection.Context);
    }

    [Fact]
    public void The_environment_and_options_win_over_a_context_and_its_key_goes_only_to_its_url()
    {
        SaveContexts("prod", ("prod", "https://baton.example.com", "prod-token"));

        Assert.Equal("option-token", Resolve(token: "option-token").Token);
        var elsewhere = Resolve(url: "https://other.example.com");
        Assert.Equal(new Uri("https://other.example.com/"), elsewhere.Url);
        Assert.Null(elsewhere.Token);
        _env["BATON_URL"] = "http://127.0.0.1:7070";
        Assert.Equal("local-admin-key-0123456789", Resolve().Token);
    }

    [Fact]
    public void Context_option_and_BATON_CONTEXT_pick_another_context()
    {
        SaveContexts("prod", ("prod", "https://baton.example.com", "prod-token"), ("dev", "http://127.0.0.1:9999", null));

        var dev = Connection.Resolve(null, null, name => _env.GetValueOrDefault(name), "dev");
        _env["BATON_CONTEXT"] = "dev";
        var fromEnvironment = Resolve();

        Assert.Equal(new Uri("http://127.0.0.1:9999/"), dev.Url);
        // No key in the context, but it is this machine: the local admin key, as with no context at all.
        Assert.Equal("local-admin-key-0123456789", dev.Token);
        Assert.Equal(dev.Url, fromEnvironment.Url);
    }

    [Fact]
    public void An_unknown_context_is_a_usage_error_naming_the_known_ones()
    {
        SaveContexts(null, ("prod", "https://baton.example.com", null));

        var error = Assert.Throws<CliException>(() => Connection.Resolve(null, null, name => _env.GetValueOrDefault(name), "staging"));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Equal("--context names no context 'staging'; known: prod", error.Message);
    }

    [Fact]
    public void A_config_file_that_is_not_json_is_reported()
    {
        var path = Path.Combine(_dataDir.Path, "config.json");
        File.WriteAllText(path, "{ not json");
        _env["BATON_CONFIG"] = path;

        var error = Assert.Throws<CliException>(() => Resolve());

        Assert.StartsWith($"{path} is not a valid baton config file", error.Message, StringComparison.Ordinal);
    }
}
