using System.Collections.Concurrent;
using System.Data.Common;
using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Baton.Tests.Support;

/// <summary>
/// Which database the servers of this test run use. By default each data dir has its SQLite file. When
/// BATON_TEST_POSTGRES holds a connection string to a PostgreSQL server (as a superuser: `./test` starts a throwaway
/// cluster), each data dir gets a database of its own there instead, copied from a template migrated once per test
/// process, so every test sees a fresh, fully migrated database in a few tens of milliseconds.
/// </summary>
public static class TestDatabase
{
    private static readonly string? Server = Environment.GetEnvironmentVariable("BATON_TEST_POSTGRES") is { Length: > 0 } s ? s : null;
    private static readonly Lazy<string> Template = new(CreateTemplate);
    private static readonly ConcurrentDictionary<string, string> Created = new(StringComparer.Ordinal);
    private static readonly Lock CreateLock = new();

    public static bool IsPostgres => Server is not null;

    /// <summary>The BATON_DATABASE setting for a server on <paramref name="dataDir"/>: null means its default SQLite file.</summary>
    public static string? SettingFor(string dataDir) => Server is null ? null : Created.GetOrAdd(dataDir, CreateFor);

    /// <summary>The database a server on <paramref name="dataDir"/> uses, opened for a test to look into.</summary>
    public static Database Open(string dataDir) => SettingFor(dataDir) is { } pg
        ? new PostgresDatabase(pg)
        : new SqliteDatabase(Path.Combine(dataDir, "baton.db"));

    /// <summary>
    /// A connection of its own to the database of <paramref name="dataDir"/>, open, for a test that looks after its server
    /// stopped; on SQLite read-only unless <paramref name="writable"/>.
    /// </summary>
    public static async Task<DbConnection> ConnectAsync(string dataDir, bool writable = false)
    {
        DbConnection connection = SettingFor(dataDir) is { } pg
            ? new NpgsqlConnection(pg)
            : new SqliteConnection($"Data Source={Path.Combine(dataDir, "baton.db")};{(writable ? "" : "Mode=ReadOnly;")}Pooling=False");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Drops <paramref name="dataDir"/>'s database, if it has one on PostgreSQL (its SQLite file goes with the folder).</summary>
    public static void Drop(string dataDir)
    {
        if (Server is null || !Created.TryRemove(dataDir, out var connectionString))
        {
            return;
        }
        using var admin = new NpgsqlConnection(Server);
        admin.Execute($"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(connectionString).Database}\" WITH (FORCE)");
    }

    private static string CreateFor(string dataDir)
    {
        var name = "baton_" + Guid.NewGuid().ToString("N");
        lock (CreateLock)
        {
            using var admin = new NpgsqlConnection(Server);
            // Several CREATE DATABASEs from one template at once fail ("source database is being accessed").
            admin.Execute($"CREATE DATABASE \"{name}\" TEMPLATE \"{Template.Value}\"");
        }
        return new NpgsqlConnectionStringBuilder(Server) { Database = name }.ConnectionString;
    }

    /// <summary>One template per test process: the test projects run at the same time, on the same cluster.</summary>
    private static string CreateTemplate()
    {
        var name = $"baton_template_{Environment.ProcessId}";
        using (var admin = new NpgsqlConnection(Server))
        {
            admin.Execute($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            admin.Execute($"CREATE DATABASE \"{name}\"");
        }
        var connectionString = new NpgsqlConnectionStringBuilder(Server) { Database = name, Pooling = false }.ConnectionString;
        using (var db = new PostgresDatabase(connectionString))
        {
            db.MigrateAsync(TimeProvider.System).GetAwaiter().GetResult();
        }
        return name;
    }
}
