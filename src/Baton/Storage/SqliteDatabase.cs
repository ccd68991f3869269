using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
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
        ConfigureLibrary();
    }

    /// <summary>
    /// Baton never uses one connection on two threads at once (the writer has one, each read rents its own), so the
    /// library's per-connection mutexes and its count of allocated memory, a lock around every malloc, protect nothing
    /// here; in serialized mode they took 5 % of a loaded server's CPU (BENCHMARKS, session 11). Only possible before the
    /// library's first use in the process: in a host that opened a connection already, SQLite refuses it
    /// (SQLITE_MISUSE) and its safe defaults stay.
    /// </summary>
    private static void ConfigureLibrary()
    {
        const int multiThread = 2, memStatus = 9;
        if (SQLitePCL.raw.sqlite3_config(multiThread) == SQLitePCL.raw.SQLITE_OK)
        {
            SQLitePCL.raw.sqlite3_config(memStatus, 0);
        }
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
        _unpooled = new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString();
        _writer = new(() => new GroupCommitWriter(OpenWriterConnection(), BatchEnded));
    }

    private long _apiKeysVersion;
    private long _runsVersion;

    /// <summary>The tables whose writes a version counts.</summary>
    [Flags]
    private enum Watched
    {
        None = 0,
        ApiKeys = 1,
        Runs = 2,
    }

    /// <summary>Set by SQLite's update hook on the writer's thread for each watched table a statement changes a row of.</summary>
    private Watched _written;

    /// <summary>One process owns the file and writes only through its writer, whose hook sees every row it changes.</summary>
    public override long? ApiKeysVersion => Interlocked.Read(ref _apiKeysVersion);

    /// <inheritdoc cref="ApiKeysVersion"/>
    public override long? RunsVersion => Interlocked.Read(ref _runsVersion);

    private void BatchEnded()
    {
        // After the COMMIT: a reader that saw this version read after it. Also after a rollback, which costs a read.
        var written = _written;
        _written = Watched.None;
        if (written.HasFlag(Watched.ApiKeys))
        {
            Interlocked.Increment(ref _apiKeysVersion);
        }
        if (written.HasFlag(Watched.Runs))
        {
            Interlocked.Increment(ref _runsVersion);
        }
    }

    /// <summary>The connections Baton keeps itself (the writer, the readers): never in Microsoft.Data.Sqlite's pool.</summary>
    private readonly string _unpooled;

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

    /// <summary>
    /// The writer reads pages through a memory map and keeps 64 MiB of them cached: no other writer's commit empties
    /// its cache, and its reads of index pages were a pread each, a sixth of a create's CPU. Not the readers: every
    /// commit empties a reader's cache and, with a map, unmaps and maps the file again (SQLite's pager), which cost more
    /// than the preads it saved at a million runs. 2 GiB is SQLite's most map.
    /// </summary>
    private const string WriterPragmas = ConnectionPragmas + " PRAGMA mmap_size=2147418112; PRAGMA cache_size=-65536;";

    public override long Commits => _writer.IsValueCreated ? _writer.Value.Commits : 0;

    public override long Writes => _writer.IsValueCreated ? _writer.Value.Writes : 0;

    public override TimeSpan? WriterBusy => _writer.IsValueCreated ? _writer.Value.Busy : TimeSpan.Zero;

    /// <summary>Statements the writer prepared: how a test sees that a statement run again is not prepared again.</summary>
    public long Prepares => _writer.IsValueCreated ? _writer.Value.Prepares : 0;

    private long _readerPrepares;

    /// <summary>Statements the readers prepared, each on its own connection.</summary>
    public long ReaderPrepares => Interlocked.Read(ref _readerPrepares);

    /// <summary>
    /// Readers idle at most, each with its prepared statements: enough for every thread-pool thread of a busy node to
    /// read at once; a burst beyond it opens connections that are closed after their read.
    /// </summary>
    private const int MaxIdleReaders = 32;

    private readonly ConcurrentBag<PreparedStatementConnection> _idleReaders = [];
    private int _idleReaderCount;
    private volatile bool _disposed;

    /// <summary>
    /// A reader of Baton's own, not one of Microsoft.Data.Sqlite's pool: like the writer's, it keeps each statement it
    /// ran prepared, where a pooled connection and Dapper parse and plan every read's SQL again (a third of the SQLite
    /// time of a run list). No PRAGMAs: they matter to writers only (durability, foreign keys, lock waits), and a WAL
    /// reader never waits for a lock.
    /// </summary>
    protected override Task<DbConnection> RentReaderAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (_idleReaders.TryTake(out var idle))
        {
            Interlocked.Decrement(ref _idleReaderCount);
            return Task.FromResult<DbConnection>(idle);
        }
        var connection = new PreparedStatementConnection(_unpooled, () => Interlocked.Increment(ref _readerPrepares));
        connection.Open();
        return Task.FromResult<DbConnection>(connection);
    }

    /// <summary>Kept when its read ended cleanly (every reader disposed, so no statement holds a read transaction open).</summary>
    protected override ValueTask ReturnReaderAsync(DbConnection connection, bool clean)
    {
        if (clean && !_disposed && connection is PreparedStatementConnection reader)
        {
            if (Interlocked.Increment(ref _idleReaderCount) <= MaxIdleReaders)
            {
                _idleReaders.Add(reader);
                // Disposed meanwhile: this one may have come back after the sweep.
                if (_disposed)
                {
                    CloseIdleReaders();
                }
                return ValueTask.CompletedTask;
            }
            Interlocked.Decrement(ref _idleReaderCount);
        }
        return connection.DisposeAsync();
    }

    private void CloseIdleReaders()
    {
        while (_idleReaders.TryTake(out var reader))
        {
            Interlocked.Decrement(ref _idleReaderCount);
            reader.Dispose();
        }
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
        _disposed = true;
        CloseIdleReaders();
        if (_writer.IsValueCreated)
        {
            await _writer.Value.DisposeAsync();
        }
    }

    /// <summary>The writer's own connection: outside the pool (clearing a pool never closes it), set up once, its statements prepared once.</summary>
    private PreparedStatementConnection OpenWriterConnection()
    {
        var connection = new PreparedStatementConnection(_unpooled);
        connection.Open();
        connection.Execute(WriterPragmas);
        SQLitePCL.raw.sqlite3_update_hook(connection.Handle, (object _, int _, SQLitePCL.utf8z _, SQLitePCL.utf8z table, long _) => _written |= WatchedTable(table), null);
        return connection;
    }

    /// <summary>
    /// Which watched table SQLite's zero-terminated table name is, read where it lies: the update hook runs for every row
    /// the writer changes, and its string overload would allocate two strings a row. `run_counts` needs no watching:
    /// only the triggers on `runs` write it, in the statement that changes a run.
    /// </summary>
    private static Watched WatchedTable(SQLitePCL.utf8z table)
    {
        ref var name = ref Unsafe.AsRef(in table.GetPinnableReference());
        return Is(ref name, "runs"u8) ? Watched.Runs : Is(ref name, "api_keys"u8) ? Watched.ApiKeys : Watched.None;
    }

    private static bool Is(ref byte name, ReadOnlySpan<byte> expected)
    {
        for (var i = 0; i < expected.Length; i++)
        {
            // A shorter name ends here: its terminator (0) differs from every letter, so nothing past it is read.
            if (Unsafe.Add(ref name, i) != expected[i])
            {
                return false;
            }
        }
        return Unsafe.Add(ref name, expected.Length) == 0;
    }
}
