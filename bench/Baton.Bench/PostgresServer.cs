using System.Globalization;
using Dapper;
using Npgsql;

namespace Baton.Bench;

/// <summary>
/// The PostgreSQL server the cluster part runs on, given by an Npgsql connection string whose user may create
/// databases: what it is (version, durability settings), a fresh database per measurement, and the CPU time of all its
/// processes, read from /proc, so that a run's cost is Baton's nodes plus the database, as DBOS's figure is.
/// </summary>
internal sealed class PostgresServer
{
    private int _databases;

    private PostgresServer(string connectionString, string description, int postmasterPid)
    {
        ConnectionString = connectionString;
        Description = description;
        PostmasterPid = postmasterPid;
    }

    public string ConnectionString { get; }

    /// <summary>Version and the settings a commit's cost depends on, for the report.</summary>
    public string Description { get; }

    /// <summary>The postmaster: every backend and background process of the server is its child.</summary>
    public int PostmasterPid { get; }

    public static async Task<PostgresServer> OpenAsync(string connectionString)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        var s = await c.QuerySingleAsync<(string Version, string Fsync, string SynchronousCommit, string MaxConnections, string SharedBuffers, int Backend)>(
            """
            SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'),
                   current_setting('max_connections'), current_setting('shared_buffers'), pg_backend_pid()
            """);
        // This connection's backend is a child of the postmaster; that only works when the server runs on this
        // machine, which the CPU figures need anyway.
        var postmaster = ServerProcess.ParentOf(s.Backend)
            ?? throw new InvalidOperationException($"PostgreSQL's backend (pid {s.Backend}) is not a process on this machine: the cluster part needs a local server, for its CPU time");
        var description = Inv($"PostgreSQL {s.Version}, fsync={s.Fsync}, synchronous_commit={s.SynchronousCommit}, max_connections={s.MaxConnections}, shared_buffers={s.SharedBuffers}");
        return new PostgresServer(connectionString, description, postmaster);
    }

    /// <summary>Creates an empty database of its own (the nodes migrate it) and gives its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = Inv($"bench_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}");
        await using (var c = new NpgsqlConnection(ConnectionString))
        {
            await c.ExecuteAsync($"CREATE DATABASE {name}");
        }
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// Adds <paramref name="runs"/> finished runs to <paramref name="database"/>: copies of one of its finished runs (same
    /// key, profile and times, ids of their own), then ANALYZE, so that plans see the table as it now is.
    /// </summary>
    public static async Task SeedFinishedRunsAsync(string database, int runs)
    {
        await using var c = new NpgsqlConnection(database);
        await c.ExecuteAsync(
            """
            INSERT INTO runs
            SELECT (jsonb_populate_record(NULL::runs, to_jsonb(r) || jsonb_build_object('id', r.id || '_seed' || g, 'idempotency_key', NULL))).*
            FROM (SELECT * FROM runs WHERE status = 'completed' LIMIT 1) r, generate_series(1, @runs) g
            """, new { runs }, commandTimeout: 600);
        await c.ExecuteAsync("ANALYZE runs", commandType: System.Data.CommandType.Text);
    }

    /// <summary>
    /// A checkpoint now: after it, the first change of each page writes the whole page to the WAL, so a measurement
    /// that a timed or WAL-size checkpoint happened to fall into costs more than one that started long after one.
    /// Every measurement starts right after one instead, and they compare.
    /// </summary>
    public async Task CheckpointAsync()
    {
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.ExecuteAsync("CHECKPOINT", commandType: System.Data.CommandType.Text); // one word: Dapper would take it for a procedure
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing whatever still holds it.</summary>
    public async Task DropDatabaseAsync(string databaseConnectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(databaseConnectionString).Database!;
        // This process's own pooled connections to it would otherwise keep backends (and the database) open.
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    /// <summary>
    /// User + system time of the postmaster and every process it has started so far: the live ones read one by one,
    /// those that have exited (a closed connection's backend) through the postmaster's cutime and cstime. A
    /// difference of two readings is the server's CPU time in between, whichever backends came and went.
    /// </summary>
    public TimeSpan CpuTime()
    {
        var total = ServerProcess.CpuTimeOf(PostmasterPid, withReapedChildren: true)
            ?? throw new InvalidOperationException($"PostgreSQL's postmaster (pid {PostmasterPid}) is gone");
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && pid != PostmasterPid && ServerProcess.ParentOf(pid) == PostmasterPid)
            {
                total += ServerProcess.CpuTimeOf(pid, withReapedChildren: false) ?? TimeSpan.Zero;
            }
        }
        return total;
    }

    private static string Inv(FormattableString s) => Report.Inv(s);
}
