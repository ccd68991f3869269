using System.Data;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Storage;

/// <summary>
/// The embedded SQLite database: WAL, synchronous=FULL (a committed transition survives power loss),
/// pooled connections for reads and one in-process writer at a time.
/// </summary>
public sealed class Database
{
    // SQLite has one writer. Queuing writers here, instead of letting them race for the file lock,
    // avoids SQLITE_BUSY back-off sleeps, which would dominate transition latency.
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    static Database()
    {
        SQLitePCL.Batteries_V2.Init();
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    public Database(string path)
    {
        Path = path;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public string ConnectionString { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken ct = default)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        // Per-connection settings; a pooled connection may be new, so they are set on every open.
        await connection.ExecuteAsync("PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;");
        return connection;
    }

    private long _reads;

    /// <summary>Reads since start-up: how a test sees that open event streams do not each query per event.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public async Task<T> ReadAsync<T>(Func<SqliteConnection, Task<T>> read, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _reads);
        await using var connection = await OpenAsync(ct);
        return await read(connection);
    }

    /// <summary>Runs <paramref name="write"/> in one IMMEDIATE transaction: all of it commits, or none.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, IDbTransaction, Task<T>> write, CancellationToken ct = default)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            await using var connection = await OpenAsync(ct);
            // Microsoft.Data.Sqlite starts non-deferred transactions with BEGIN IMMEDIATE: the write lock is
            // taken before the first read, so read-decide-write cannot interleave with another writer.
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(IsolationLevel.Serializable, ct);
            var result = await write(connection, tx);
            await tx.CommitAsync(ct);
            return result;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public Task WriteAsync(Func<SqliteConnection, IDbTransaction, Task> write, CancellationToken ct = default) =>
        WriteAsync<bool>(async (c, tx) => { await write(c, tx); return true; }, ct);

    public async Task MigrateAsync(TimeProvider time, CancellationToken ct = default)
    {
        await using (var connection = await OpenAsync(ct))
        {
            // journal_mode is persistent in the file; it only needs saying once.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL;");
            await connection.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
        }

        foreach (var (version, sql) in LoadMigrations())
        {
            await WriteAsync(async (c, tx) =>
            {
                var applied = await c.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, tx);
                if (applied > 0)
                {
                    return;
                }
                await c.ExecuteAsync(sql, transaction: tx);
                await c.ExecuteAsync(
                    "INSERT INTO schema_migrations(version, applied_at) VALUES (@version, @now)",
                    new { version, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx);
            }, ct);
        }
    }

    public async Task<bool> IsReachableAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = await OpenAsync(ct);
            return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations") > 0;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    private static IEnumerable<(string Version, string Sql)> LoadMigrations()
    {
        var assembly = Assembly.GetExecutingAssembly();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("migrations/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name["migrations/".Length..^".sql".Length], reader.ReadToEnd());
        }
    }
}
