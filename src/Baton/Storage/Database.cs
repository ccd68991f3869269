using System.Data;
using System.Data.Common;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Storage;

/// <summary>
/// The embedded SQLite database: WAL, synchronous=FULL (a committed transition survives power loss), pooled
/// connections for reads, and one writer that owns one long-lived connection and commits queued writes together.
/// </summary>
public sealed class Database : IAsyncDisposable, IDisposable
{
    private readonly Lazy<GroupCommitWriter> _writer;

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
        _writer = new(() => new GroupCommitWriter(OpenWriterConnection()));
    }

    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>The SQL that differs from one database to another.</summary>
    public SqlDialect Dialect => SqlDialect.Sqlite;

    /// <summary>Most writes one batch holds: bounds how long the first of them waits for its commit.</summary>
    public const int MaxBatch = 64;

    public async Task<SqliteConnection> OpenAsync(CancellationToken ct = default)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        // Per-connection settings; a pooled connection may be new, so they are set on every open.
        await connection.ExecuteAsync(ConnectionPragmas);
        return connection;
    }

    private const string ConnectionPragmas = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";

    private long _reads;

    /// <summary>Reads since start-up: how a test sees that open event streams do not each query per event.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Commits since start-up, each ending one batch of writes: how a test sees that writes share a commit.</summary>
    public long Commits => _writer.IsValueCreated ? _writer.Value.Commits : 0;

    /// <summary>Writes since start-up, committed or failed: with <see cref="Commits"/>, how many share a commit.</summary>
    public long Writes => _writer.IsValueCreated ? _writer.Value.Writes : 0;

    /// <summary>Statements the writer prepared: how a test sees that a statement run again is not prepared again.</summary>
    public long Prepares => _writer.IsValueCreated ? _writer.Value.Prepares : 0;

    public async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _reads);
        // No PRAGMAs: they matter to writers only (durability, foreign keys, lock waits), and a WAL reader never waits
        // for a lock. Three statements fewer for every read.
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        return await read(connection);
    }

    /// <summary>
    /// Runs <paramref name="write"/> atomically and durably: the task completes after the COMMIT that holds it (and its
    /// fsync) returned, so whatever the caller does next — kill a process, notify a waiter — follows a committed state.
    /// The write shares its transaction with other queued writes but runs in a SAVEPOINT of its own: if it throws,
    /// only its changes are rolled back, and the exception is the caller's. A write sees the effects of the writes
    /// before it in its batch; it must not wait for another write (there is one writer).
    /// </summary>
    public Task<T> WriteAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct = default) =>
        _writer.Value.EnqueueAsync(write, ct);

    public Task WriteAsync(Func<DbConnection, IDbTransaction, Task> write, CancellationToken ct = default) =>
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

    /// <summary>Lets the queued writes finish, then closes the writer's connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_writer.IsValueCreated)
        {
            await _writer.Value.DisposeAsync();
        }
    }

    // A host disposed synchronously (a test factory) disposes its singletons this way.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>The writer's own connection: outside the pool (clearing a pool never closes it), set up once, its statements prepared once.</summary>
    private PreparedStatementConnection OpenWriterConnection()
    {
        var connection = new PreparedStatementConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString());
        connection.Open();
        connection.Execute(ConnectionPragmas);
        return connection;
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
