using System.Net;
using Baton.Client;
using Baton.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace Baton.Tests.Ops;

public class OptionsTests
{
    private static BatonOptions From(params (string Key, string Value)[] settings) =>
        BatonOptions.From(new ConfigurationBuilder().AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value)).Build());

    [Fact]
    public void Defaults_put_everything_in_dot_baton()
    {
        var options = From();
        Assert.Equal(Path.GetFullPath(".baton"), options.DataDir);
        Assert.Equal(Path.Combine(Path.GetFullPath(".baton"), "baton.db"), options.Database.SqlitePath);
        Assert.Equal(("all", Baton.Engine.EngineOptions.DefaultConcurrency, 100, false), (options.Role, options.Concurrency, options.RateLimit, options.LocalAdminKey));
        Assert.Equal(Path.GetFullPath(".baton-work"), options.WorkDir);
    }

    [Theory]
    [InlineData("/srv/baton", "/srv/baton/work")]
    [InlineData("/srv/baton", "/srv/baton")]
    [InlineData("/srv/baton", "/srv")]
    public void A_work_dir_inside_the_data_dir_or_around_it_is_refused(string dataDir, string workDir)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => From(("BATON_DATA_DIR", dataDir), ("BATON_WORK_DIR", workDir)));
        Assert.Contains("BATON_WORK_DIR", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/srv")]
    [InlineData("/srv/baton/profiles")]
    [InlineData("/srv/baton-work/workspaces")]
    [InlineData("relative/tools")]
    public void A_sandbox_read_only_path_that_would_show_the_data_dir_or_the_work_dir_is_refused(string path)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => From(("BATON_DATA_DIR", "/srv/baton"), ("BATON_SANDBOX_RO_PATHS", "/opt/tools:" + path)));
        Assert.Contains("BATON_SANDBOX_RO_PATHS", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sandbox_settings_have_safe_defaults_and_are_read()
    {
        var defaults = From();
        Assert.Equal((true, null, 10L * 1024 * 1024, 100_000), (defaults.SandboxEnabled, defaults.BwrapPath, defaults.OutputMaxBytes, defaults.OutputMaxLines));
        var set = From(("BATON_SANDBOX", "off"), ("BATON_BWRAP", "/usr/local/bin/bwrap"), ("BATON_SANDBOX_RO_PATHS", "/opt/tools:/usr/local/share/claude"),
            ("BATON_OUTPUT_MAX_BYTES", "2048"), ("BATON_OUTPUT_MAX_LINES", "50"));
        Assert.Equal((false, "/usr/local/bin/bwrap", 2048L, 50), (set.SandboxEnabled, set.BwrapPath, set.OutputMaxBytes, set.OutputMaxLines));
        Assert.Equal(["/opt/tools", "/usr/local/share/claude"], set.SandboxReadOnlyPaths);
        Assert.Throws<InvalidOperationException>(() => From(("BATON_OUTPUT_MAX_LINES", "lots")));
    }

    [Fact]
    public void A_work_dir_beside_the_data_dir_is_fine()
    {
        Assert.Equal("/srv/baton..work", From(("BATON_DATA_DIR", "/srv/baton"), ("BATON_WORK_DIR", "/srv/baton..work")).WorkDir);
    }

    [Theory]
    [InlineData("BATON_WORKERS", "many", "BATON_WORKERS")]
    [InlineData("BATON_WORKERS", "0", "BATON_WORKERS")]
    [InlineData("BATON_RATE_LIMIT", "-1", "BATON_RATE_LIMIT")]
    [InlineData("BATON_PUBLIC_URL", "baton.example.com", "BATON_PUBLIC_URL")]
    [InlineData("BATON_PUBLIC_URL", "ftp://baton.example.com", "BATON_PUBLIC_URL")]
    [InlineData("BATON_ROLE", "boss", "BATON_ROLE")]
    [InlineData("BATON_ROLE", "api", "PostgreSQL")]
    [InlineData("BATON_ROLE", "api", "BATON_DATABASE")]
    [InlineData("BATON_ROLE", "worker", "PostgreSQL")]
    [InlineData("BATON_DATABASE", "Host=db;Colour=blue", "BATON_DATABASE")]
    [InlineData("BATON_DATABASE", "postgres://", "BATON_DATABASE")]
    [InlineData("BATON_DATABASE", "postgres://db/baton?colour=blue", "colour")]
    [InlineData("BATON_SESSION_TTL", "forever", "BATON_SESSION_TTL")]
    [InlineData("BATON_SESSION_TTL", "0s", "BATON_SESSION_TTL")]
    public void Bad_settings_stop_start_up_with_a_clear_message(string key, string value, string mentions)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => From((key, value)));
        Assert.Contains(mentions, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres://baton:s%40cret@db.internal:6543/baton_prod?sslmode=require", "db.internal", 6543, "baton_prod", "baton", "s@cret")]
    [InlineData("postgresql://db/baton", "db", 5432, "baton", null, null)]
    [InlineData("Host=db;Port=5433;Database=baton;Username=baton;Password=pw", "db", 5433, "baton", "baton", "pw")]
    public void A_postgres_uri_or_connection_string_chooses_postgres(string setting, string host, int port, string database, string? user, string? password)
    {
        var chosen = From(("BATON_DATABASE", setting)).Database;
        Assert.Null(chosen.SqlitePath);
        var pg = new Npgsql.NpgsqlConnectionStringBuilder(chosen.PostgresConnectionString);
        Assert.Equal((host, port, database, user, password, "baton"), (pg.Host, pg.Port, pg.Database, pg.Username, pg.Password, pg.ApplicationName));
        Assert.DoesNotContain(password ?? "no password", chosen.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/srv/baton/state.db")]
    [InlineData("Data Source=/srv/baton/state.db")]
    public void Anything_else_is_an_sqlite_file(string setting)
    {
        Assert.Equal(("/srv/baton/state.db", null), (From(("BATON_DATABASE", setting)).Database.SqlitePath, From(("BATON_DATABASE", setting)).Database.PostgresConnectionString));
    }

    [Theory]
    [InlineData("relative/folder", "absolute")]
    [InlineData("/no/such/folder/for/baton", "not an existing folder")]
    public void Bad_repository_roots_stop_start_up(string roots, string mentions)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => From(("BATON_REPO_ROOTS", roots)));
        Assert.Contains("BATON_REPO_ROOTS", ex.Message, StringComparison.Ordinal);
        Assert.Contains(mentions, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Repository_roots_are_none_on_a_server_and_where_baton_up_runs_on_one_machine()
    {
        Assert.Empty(From(("BATON_DATA_DIR", "/srv/baton")).RepoRoots);
        var temp = Path.TrimEndingDirectorySeparator(Path.GetTempPath());
        Assert.Equal([temp, "/"], From(("BATON_REPO_ROOTS", temp + ":/:" + temp)).RepoRoots);
        var local = From(("BATON_DATA_DIR", Path.Combine(temp, "x", ".baton")), ("BATON_LOCAL_ADMIN_KEY", "true")).RepoRoots;
        Assert.Equal(Path.Combine(temp, "x"), local[0]);
        Assert.Empty(From(("BATON_LOCAL_ADMIN_KEY", "true"), ("BATON_REPO_ROOTS", "")).RepoRoots);
    }

    [Fact]
    public async Task The_data_dir_and_the_local_key_are_private_to_their_owner()
    {
        using var factory = new BatonFactory();
        Directory.Delete(factory.DataDir, recursive: true);
        factory.Settings["BATON_LOCAL_ADMIN_KEY"] = "true";
        Assert.Equal(HttpStatusCode.OK, (await factory.Http(token: null).GetAsync("/readyz")).StatusCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(factory.DataDir));
        var keyFile = Path.Combine(factory.DataDir, BatonOptions.LocalAdminTokenFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.NotNull(await factory.Client(File.ReadAllText(keyFile).Trim()).ListRunsAsync());
    }

    [Fact]
    public async Task A_new_admin_token_replaces_the_old_one()
    {
        string dataDir;
        using (var first = new BatonFactory { KeepDataDir = true })
        {
            dataDir = first.DataDir;
            Assert.NotNull(await first.Client().ListRunsAsync());
        }
        using var second = new BatonFactory(dataDir: dataDir);
        second.Settings["BATON_ADMIN_TOKEN"] = "rotated-admin-token-0123456789";
        var old = await Assert.ThrowsAsync<BatonApiException>(() => second.Client(BatonFactory.AdminToken).ListRunsAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, old.Status);
        var keys = await second.Client("rotated-admin-token-0123456789").ListKeysAsync();
        Assert.Single(keys.Keys, k => k.Name == "bootstrap-admin" && k.RevokedAt is null);
    }
}
