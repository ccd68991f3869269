using System.Data;
using System.Data.Common;
using Dapper;
using Npgsql;

namespace Baton.Storage;

/// <summary>
/// PostgreSQL, shared by any number of Baton nodes (ADR 25). Each write is one read-committed transaction on a pooled
/// connection; PostgreSQL already groups concurrent commits into one WAL flush, so there is no writer loop. What
/// SQLite's single writer made safe by itself, the statements make safe here: claims skip locked rows and repeat
/// their condition, and each decision locks the rows it decides on.
/// </summary>
public sealed class PostgresDatabase : Database
{
    /// <summary>The session advisory lock that lets one node at a time migrate: "BATON" in ASCII.</summary>
    private const long MigrationLock = 0x4241544F4E;

    private readonly NpgsqlDataSource _source;
    private long _commits;
    private long _writes;

    public PostgresDatabase(string connectionString)
    {
        ConnectionString = connectionString;
        _source = NpgsqlDataSource.Create(WithPoolDefaults(connectionString));
    }

    /// <summary>
    /// The most connections a node's pool opens unless BATON_DATABASE says otherwise: twice the node's cores, at least
    /// four. More transactions at once than the database has cores to run them only make each one longer: with
    /// Npgsql's default of 100, a worker node's 32 executors kept 32 backends busy on two cores, and each transaction
    /// held back PostgreSQL's vacuum horizon long enough that the indexes read most often (the sequencer's partial
    /// index, the claim's) filled with dead entries every scan walked. With 4, the same node finished 30–60 % more runs per
    /// second on 35–50 % less PostgreSQL CPU (docs/BENCHMARKS.md, session 9). Executors wait for a connection in the
    /// pool instead, which costs nothing while agents run, since nothing holds a connection across an agent's work.
    /// </summary>
    public static int DefaultMaxPoolSize => Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>
    /// Baton's pool settings, where <paramref name="connectionString"/> does not set them itself: at most
    /// <see cref="DefaultMaxPoolSize"/> connections; statements used often prepared once per connection (a third
    /// less PostgreSQL CPU per run in the bench); and a connection going back to the pool not reset: Baton keeps no
    /// session state on pooled connections, and the reset would cost a statement per use. A plan a newer node's
    /// migration made stale is taken care of by <see cref="ForgotStalePlans"/>.
    /// </summary>
    public static string WithPoolDefaults(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant()).ToHashSet(StringComparer.Ordinal);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.Contains("MAXIMUMPOOLSIZE") && !given.Contains("MAXPOOLSIZE"))
        {
            builder.MaxPoolSize = DefaultMaxPoolSize;
        }
        if (!given.Contains("MAXAUTOPREPARE"))
        {
            builder.MaxAutoPrepare = 100;
        }
        if (!given.Contains("NORESETONCLOSE"))
        {
            builder.NoResetOnClose = true;
        }
        return builder.ConnectionString;
    }

    public string ConnectionString { get; }

    public override SqlDialect Dialect => SqlDialect.Postgres;

    public override long Commits => Interlocked.Read(ref _commits);

    public override long Writes => Interlocked.Read(ref _writes);

    private long _statements;
    private long _roundTrips;

    /// <summary>Statements run by committed writes since start-up (each held-back one counted too).</summary>
    public long WriteStatements => Interlocked.Read(ref _statements);

    /// <summary>Round trips of committed writes since start-up, their COMMITs included: less than statements + commits by what was held back.</summary>
    public long WriteRoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>
    /// Told of each committed write's cost, COMMIT included, with its statements' texts: how a test sees what one kind
    /// of transaction costs. Keeping the texts costs a list per write, so only while someone listens.
    /// </summary>
    public Action<DeferredWrites.Cost>? WriteCommitted { get; set; }

    protected override async Task<DbConnection> RentReaderAsync(CancellationToken ct) => await _source.OpenConnectionAsync(ct);

    public override async Task<T> WriteAsync<T>(Func<DbConnection, IDbTransaction, Task<T>> write, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _writes);
        for (var attempt = 1; ; attempt++)
        {
            var committing = false;
            try
            {
                await using var connection = await _source.OpenConnectionAsync(ct);
                await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
                // The closure's statements whose results nobody reads ride with the next that needs an answer (ADR 42).
                var pipelined = new DeferredWrites.NpgsqlConnection(connection, keepTexts: WriteCommitted is not null);
                await using var pipelinedTx = new DeferredWrites.PipelinedTransaction(pipelined, tx);
                var result = await write(pipelined, pipelinedTx);
                committing = true;
                // Not cancellable: once the write ran, its caller learns whether it committed.
                await pipelined.CommitAsync(tx);
                Interlocked.Increment(ref _commits);
                var cost = pipelined.Cost;
                Interlocked.Add(ref _statements, cost.Statements);
                Interlocked.Add(ref _roundTrips, cost.RoundTrips);
                WriteCommitted?.Invoke(cost);
                return result;
            }
            catch (Exception ex) when ((!committing || ex is PostgresException { InvariantSeverity: "ERROR" }) && attempt < MaxAttempts && (IsTransient(ex) || ForgotStalePlans(ex)) && !ct.IsCancellationRequested)
            {
                // Rolled back before its COMMIT was sent, or refused with it (an ERROR in a held-back statement sent with
                // the COMMIT, which the server then skipped, or in the COMMIT itself), so running it again cannot apply it
                // twice. (A connection lost or a FATAL error during the COMMIT leaves the outcome unknown: that one is
                // the caller's, like any other error.)
                await Task.Delay(Backoff(attempt), ct);
            }
        }
    }

    public override bool Refused(Exception ex) => ex is PostgresException { InvariantSeverity: "ERROR" };

    /// <summary>Tries of one write, the first included: a deadlock or a failover rarely outlasts a few.</summary>
    private const int MaxAttempts = 5;

    /// <summary>
    /// Errors after which the transaction is gone and running it again may succeed: a serialization failure, a
    /// deadlock (PostgreSQL aborted one of the two), a lost connection, a server shutting down or out of connections.
    /// </summary>
    private static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected || pg.IsTransient,
        NpgsqlException npgsql => npgsql.IsTransient,
        _ => false,
    };

    /// <summary>
    /// A prepared statement whose result columns a migration changed since it was prepared (another node upgraded
    /// first): PostgreSQL refuses it, and the same statement runs again, prepared anew on a new connection. Only the
    /// plan cache's error, not any other "feature not supported".
    /// </summary>
    protected override bool ForgotStalePlans(Exception ex)
    {
        if (ex is not PostgresException { SqlState: PostgresErrorCodes.FeatureNotSupported, Routine: "RevalidateCachedQuery" })
        {
            return false;
        }
        // Every pooled connection prepared the same statements: close them all (those in use once they come back),
        // rather than meet the same error once per connection. Only after a migration, so rarely.
        _source.Clear();
        return true;
    }

    /// <summary>10, 20, 40, 80 ms, each with up to as much again at random, so two writers that deadlocked do not meet again.</summary>
    private static TimeSpan Backoff(int attempt)
    {
        var ms = 10 << (attempt - 1);
        return TimeSpan.FromMilliseconds(ms + Random.Shared.Next(ms));
    }

    public override async Task MigrateAsync(TimeProvider time, CancellationToken ct = default)
    {
        await using var connection = await _source.OpenConnectionAsync(ct);
        // Nodes that start together wait here for the first one; each migration is then one transaction (DDL is
        // transactional in PostgreSQL), so a node killed half-way leaves the schema at the last whole version.
        await connection.ExecuteAsync("SELECT pg_advisory_lock(@MigrationLock)", new { MigrationLock });
        try
        {
            await connection.ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text COLLATE \"C\" PRIMARY KEY, applied_at bigint NOT NULL)");
            foreach (var (version, sql) in LoadMigrations("migrations-postgres"))
            {
                await using var tx = await connection.BeginTransactionAsync(ct);
                var applied = await connection.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, tx);
                if (applied == 0)
                {
                    await connection.ExecuteAsync(sql, transaction: tx);
                    await connection.ExecuteAsync(
                        "INSERT INTO schema_migrations(version, applied_at) VALUES (@version, @now)",
                        new { version, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx);
                }
                await tx.CommitAsync(ct);
            }
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@MigrationLock)", new { MigrationLock });
        }
    }

    public override async Task<bool> IsReachableAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = await _source.OpenConnectionAsync(ct);
            return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations") > 0;
        }
        catch (Exception ex) when (Dialect.IsDatabaseError(ex))
        {
            return false;
        }
    }

    public override ValueTask DisposeAsync() => _source.DisposeAsync();

    /// <summary>An Npgsql keyword connection string, checked and written the one way Npgsql writes it.</summary>
    public static string Normalize(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (string.IsNullOrEmpty(builder.ApplicationName))
            {
                builder.ApplicationName = "baton";
            }
            return builder.ConnectionString;
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"BATON_DATABASE is not a valid PostgreSQL connection string: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A <c>postgres://user:password@host:port/database?sslmode=require</c> URI (libpq's form, which Npgsql does not
    /// read itself) as an Npgsql keyword string.
    /// </summary>
    public static string FromUri(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || string.IsNullOrEmpty(parsed.Host))
        {
            throw new InvalidOperationException("BATON_DATABASE is not a valid postgres:// URI; write postgres://user:password@host:port/database");
        }
        var builder = new NpgsqlConnectionStringBuilder { Host = parsed.Host };
        if (parsed.Port > 0)
        {
            builder.Port = parsed.Port;
        }
        if (parsed.AbsolutePath.Trim('/') is { Length: > 0 } database)
        {
            builder.Database = Uri.UnescapeDataString(database);
        }
        if (parsed.UserInfo is { Length: > 0 } userInfo)
        {
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }
        foreach (var pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            try
            {
                builder[key] = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            }
            catch (ArgumentException)
            {
                throw new InvalidOperationException($"BATON_DATABASE: '{key}' is not a PostgreSQL connection setting Npgsql knows");
            }
        }
        return Normalize(builder.ConnectionString);
    }

    /// <summary>Host, port, database and user, for messages and logs: never the password.</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
    }
}
