using System.Net.Http.Headers;
using Baton.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Tests.Support;

/// <summary>
/// The real server in-process, in its own temp data dir, on its own real database (<see cref="TestDatabase"/>). Keys of every role exist;
/// <see cref="Clock"/> replaces the system clock when a test needs to move time.
/// </summary>
public class BatonFactory : WebApplicationFactory<Program>
{
    public const string AdminToken = "test-admin-token-0123456789";

    private readonly Dictionary<string, string> _tokens = new();

    public BatonFactory(FakeTimeProvider? clock = null, string? dataDir = null, IDictionary<string, string>? profiles = null)
    {
        Clock = clock;
        DataDir = dataDir ?? Directory.CreateTempSubdirectory("baton-test-").FullName;
        Directory.CreateDirectory(Path.Combine(DataDir, "profiles"));
        foreach (var (name, yaml) in profiles ?? new Dictionary<string, string>())
        {
            File.WriteAllText(Path.Combine(DataDir, "profiles", name + ".yaml"), yaml);
        }
    }

    public FakeTimeProvider? Clock { get; }

    public string DataDir { get; }

    public string DatabasePath => Path.Combine(DataDir, "baton.db");

    /// <summary>Where workspaces, scratch and execution folders go (BATON_WORK_DIR's default for this data dir).</summary>
    public string WorkDir => DataDir + "-work";

    /// <summary>More configuration, as BATON_* settings.</summary>
    public Dictionary<string, string> Settings { get; } = [];

    /// <summary>Requests per second per key; off (0) unless a test is about rate limiting.</summary>
    public int RateLimit { get; init; }

    /// <summary>
    /// The test is about SQLite itself (its statements, query plans, or migrations of an older file): the server uses
    /// its SQLite file in the PostgreSQL pass too.
    /// </summary>
    public bool Sqlite { get; init; }

    /// <summary>Leave the data dir on disposal, for a test that starts a second server on it.</summary>
    public bool KeepDataDir { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("BATON_DATA_DIR", DataDir);
        builder.UseSetting("BATON_ADMIN_TOKEN", AdminToken);
        builder.UseSetting("BATON_WORKERS", "2");
        builder.UseSetting("BATON_RATE_LIMIT", RateLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Test repositories live in temp folders; Baton's own data and work dirs inside it stay refused.
        builder.UseSetting("BATON_REPO_ROOTS", Path.GetTempPath());
        if (!Sqlite && TestDatabase.SettingFor(DataDir) is { } database)
        {
            builder.UseSetting("BATON_DATABASE", database);
        }
        builder.UseEnvironment("Production");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }
        if (Clock is not null)
        {
            builder.ConfigureServices(s => s.AddSingleton<TimeProvider>(Clock));
        }
    }

    public HttpClient Http(string? token = AdminToken)
    {
        var http = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    public BatonClient Client(string? token = AdminToken) => new(Http(token));

    /// <summary>A client whose key has exactly this role (created once per factory).</summary>
    public async Task<BatonClient> ClientAsAsync(string role)
    {
        if (!_tokens.TryGetValue(role, out var token))
        {
            var created = await Client().CreateKeyAsync(new CreateKeyRequest($"test-{role}", role));
            token = _tokens[role] = created.Token;
        }
        return Client(token);
    }

    public T Service<T>() where T : notnull => Services.GetRequiredService<T>();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        // This server's pool only: clearing every pool would race with other test classes' servers opening connections.
        using (var connection = new SqliteConnection(new Baton.Storage.SqliteDatabase(DatabasePath).ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
        if (KeepDataDir)
        {
            WaitForDataDirLockReleased();
            return;
        }
        TestDatabase.Drop(DataDir);
        try
        {
            Directory.Delete(DataDir, recursive: true);
            if (Directory.Exists(WorkDir))
            {
                Directory.Delete(WorkDir, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still open by a pooled connection; the temp dir is cleaned by the OS eventually.
        }
    }

    /// <summary>
    /// The next server on this data dir takes the SQLite file's lock at start. The factory's disposal can return before
    /// the server's services are: Program's own <c>app.Run</c> disposes the same host concurrently, and a second disposal
    /// returns at once while the first is still under way. So wait here until the lock is free.
    /// </summary>
    private void WaitForDataDirLockReleased()
    {
        var lockPath = DatabasePath + ".lock";
        // Past the deadline the next server says who holds the lock.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (File.Exists(lockPath) && DateTime.UtcNow < deadline)
        {
            try
            {
                using var free = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(20);
            }
        }
    }
}

/// <summary>One server per test class (xunit class fixture) with every test profile installed.</summary>
public class ApiFactory() : BatonFactory(profiles: new Dictionary<string, string>
{
    ["straight"] = TestProfiles.Straight,
    ["loop"] = TestProfiles.Loop,
    ["gated"] = TestProfiles.Gated.Replace("OUTCOME", "expire", StringComparison.Ordinal),
    ["handoff"] = TestProfiles.External,
    ["stepwise"] = TestProfiles.Manual,
});

/// <summary><see cref="ApiFactory"/> on SQLite in both passes, for tests of SQLite's own behaviour.</summary>
public sealed class SqliteApiFactory : ApiFactory
{
    public SqliteApiFactory()
    {
        Sqlite = true;
    }
}
