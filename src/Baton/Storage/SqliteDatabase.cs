using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Storage;

/// <summary>
/// The embedded SQLite database: WAL, synchronous=FULL (a committed transition survives power loss), pooled
/// connections for reads, and one writer that owns one long-lived connection and commits queued writes together.
/// </summary>
public sealed class SqliteDatabase : Database
{
    private readonly Lazy<GroupCommitWriter> _writer;

    static SqliteDatabase()
    {
        SQLitePCL.Batteries_V2.Init();
    }

    public SqliteDatabase(string path)
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

    public override SqlDialect Dialect => SqlDialect.Sqlite;

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

    public override long Commits => _writer.IsValueCreated ? _writer.Value.Commits : 0;

    public override long Writes => _writer.IsValueCreated ? _writer.Value.Writes : 0;

    /// <summary>Statements the writer prepared: how a test sees that a statement run again is not prepared again.</summary>
    public long Prepares => _writer.IsValueCreated ? _writer.Value.Prepares : 0;

    protected override async Task<DbConnection> OpenReaderAsync(CancellationToken ct)
    {
        // No PRAGMAs: they matter to writers only (durability, foreign keys, lock waits), and a WAL reader never waits
        // for a lock. Three statements fewer for every read.
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    /// <summary>
    /// The write shares its transaction with other queued writes but runs in a SAVEPOINT of its own: if it throws,
    /// only its changes are rolled back. A write sees the effects of the writes before it in its batch; it must not
    /// wait for another write (there is one writer).
    /// </summary>
    public override Task<T> WriteAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct = default) =>
        _writer.Value.EnqueueAsync(write, ct);

    public override async Task MigrateAsync(TimeProvider time, CancellationToken ct = default)
    {
        await using (var connection = await OpenAsync(ct))
        {
            // journal_mode is persistent in the file; it only needs saying once.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL;");
            await connection.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
        }

        foreach (var (version, sql) in LoadMigrations("migrations"))
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

    public override async Task<bool> IsReachableAsync(CancellationToken ct)
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
    public override async ValueTask DisposeAsync()
    {
        if (_writer.IsValueCreated)
        {
            await _writer.Value.DisposeAsync();
        }
    }

    /// <summary>The writer's own connection: outside the pool (clearing a pool never closes it), set up once, its statements prepared once.</summary>
    private PreparedStatementConnection OpenWriterConnection()
    {
        var connection = new PreparedStatementConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString());
        connection.Open();
        connection.Execute(ConnectionPragmas);
        return connection;
    }
}
