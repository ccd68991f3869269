using System.Data;
using System.Data.Common;
using System.Reflection;
using Dapper;

namespace Baton.Storage;

/// <summary>
/// Where Baton keeps its state: embedded SQLite (<see cref="SqliteDatabase"/>, one process) or PostgreSQL
/// (<see cref="PostgresDatabase"/>, any number of nodes). Stores see only this: reads on a connection of their own,
/// writes in a transaction that commits durably before the caller goes on, and the <see cref="Dialect"/> for the
/// few statements the two write differently (ADR 23, ADR 25).
/// </summary>
public abstract class Database : IAsyncDisposable, IDisposable
{
    static Database()
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    /// <summary>The database <paramref name="setting"/> names: a PostgreSQL connection string, else an SQLite file path.</summary>
    public static Database Open(DatabaseSetting setting) => setting.PostgresConnectionString is { } pg
        ? new PostgresDatabase(pg)
        : new SqliteDatabase(setting.SqlitePath!);

    /// <summary>The SQL that differs from one database to another.</summary>
    public abstract SqlDialect Dialect { get; }

    private long _reads;

    /// <summary>Reads since start-up: how a test sees that open event streams do not each query per event.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Commits since start-up, each ending one batch of writes: how a test sees that writes share a commit.</summary>
    public abstract long Commits { get; }

    /// <summary>Writes since start-up, committed or failed: with <see cref="Commits"/>, how many share a commit.</summary>
    public abstract long Writes { get; }

    /// <summary>
    /// How long the one writer has been running and committing batches since start-up; its rate of growth is the share
    /// of the time writes had it, and near 1 every write waits for the ones queued before it. Null where there is no one
    /// writer (PostgreSQL: each node's transactions run side by side).
    /// </summary>
    public virtual TimeSpan? WriterBusy => null;

    /// <summary>
    /// Changes after every commit that wrote to `api_keys`, before the writers learn of it; null where another process
    /// may write them (PostgreSQL's other nodes), so that nothing read from them can be trusted until read again.
    /// </summary>
    public virtual long? ApiKeysVersion => null;

    /// <summary>The same for `runs` (and the counts kept from it): what a page of the runs list is read from.</summary>
    public virtual long? RunsVersion => null;

    public async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _reads);
        for (var attempt = 1; ; attempt++)
        {
            var connection = await RentReaderAsync(ct);
            var result = default(T);
            var succeeded = false;
            try
            {
                result = await read(connection);
                succeeded = true;
            }
            catch (Exception ex) when (attempt == 1 && ForgotStalePlans(ex))
            {
                // Prepared anew on the second try: see the override.
            }
            finally
            {
                await ReturnReaderAsync(connection, succeeded);
            }
            if (succeeded)
            {
                return result!;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="ex"/> says only that statements prepared earlier must be prepared again; if so, they
    /// are forgotten on every connection, so the next try cannot meet another stale one.
    /// </summary>
    protected virtual bool ForgotStalePlans(Exception ex) => false;

    /// <summary>
    /// Runs <paramref name="write"/> atomically and durably: the task completes after the COMMIT that holds it
    /// returned, so whatever the caller does next (kill a process, notify a waiter) follows a committed state. If it
    /// throws, none of its changes stay, and the exception is the caller's.
    /// </summary>
    public abstract Task<T> WriteAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct = default);

    /// <summary>
    /// Whether <paramref name="ex"/>, thrown by <see cref="WriteAsync{T}"/>, says for certain that the database refused
    /// a statement of the write or its COMMIT, so that nothing of it committed (a write held back until the COMMIT,
    /// ADR 42, fails this way). False when the outcome is unknown, as after a connection lost during the COMMIT.
    /// </summary>
    public virtual bool Refused(Exception ex) => false;

    public Task WriteAsync(Func<DbConnection, IDbTransaction, Task> write, CancellationToken ct = default) =>
        WriteAsync<bool>(async (c, tx) => { await write(c, tx); return true; }, ct);

    /// <summary>Brings the schema up to date; safe to call from several processes at once.</summary>
    public abstract Task MigrateAsync(TimeProvider time, CancellationToken ct = default);

    /// <summary>Whether the database answers and holds Baton's schema: /readyz.</summary>
    public abstract Task<bool> IsReachableAsync(CancellationToken ct);

    /// <summary>A connection for reads, open, with nothing else set up.</summary>
    protected abstract Task<DbConnection> RentReaderAsync(CancellationToken ct);

    /// <summary>
    /// A connection <see cref="RentReaderAsync"/> gave, after its read: kept for the next one, or closed. A read that
    /// threw may have left it mid-statement, so <paramref name="clean"/> is false then.
    /// </summary>
    protected virtual ValueTask ReturnReaderAsync(DbConnection connection, bool clean) => connection.DisposeAsync();

    public abstract ValueTask DisposeAsync();

    // A host disposed synchronously (a test factory) disposes its singletons this way.
    public void Dispose()
    {
        DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    /// <summary>The migrations in <paramref name="folder"/> (embedded resources), in version order.</summary>
    protected static IEnumerable<(string Version, string Sql)> LoadMigrations(string folder)
    {
        var assembly = Assembly.GetExecutingAssembly();
        var prefix = folder + "/";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name[prefix.Length..^".sql".Length], reader.ReadToEnd());
        }
    }
}

/// <summary>BATON_DATABASE, read: exactly one of an SQLite file path and a PostgreSQL connection string (keyword form).</summary>
public sealed record DatabaseSetting(string? SqlitePath, string? PostgresConnectionString)
{
    public bool IsPostgres => PostgresConnectionString is not null;

    /// <summary>
    /// Reads BATON_DATABASE: unset means <c>&lt;data dir&gt;/baton.db</c>; <c>postgres://</c> or <c>postgresql://</c> URIs
    /// and Npgsql keyword strings (<c>Host=…;Database=…</c>) mean PostgreSQL; anything else is an SQLite file path
    /// (optionally written <c>Data Source=path</c>).
    /// </summary>
    public static DatabaseSetting From(string? setting, string dataDir)
    {
        if (setting is not { Length: > 0 })
        {
            return new(Path.Combine(dataDir, "baton.db"), null);
        }
        if (setting.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || setting.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, PostgresDatabase.FromUri(setting));
        }
        if (setting.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, PostgresDatabase.Normalize(setting));
        }
        return new(Path.GetFullPath(setting.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase) ? setting["Data Source=".Length..] : setting), null);
    }

    /// <summary>Where it is, for messages: never with a password.</summary>
    public override string ToString() => SqlitePath ?? PostgresDatabase.Describe(PostgresConnectionString!);
}
