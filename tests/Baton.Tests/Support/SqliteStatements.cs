using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Baton.Tests.Support;

/// <summary>
/// Every SQL statement that SQLite runs on one database file, from any connection of this process, and what each
/// one reads: how a test sees that a code path never touches a column or a table, whatever the code around it does.
/// <para>
/// SQLite calls an auto extension on every connection it opens; ours installs a statement trace
/// (sqlite3_trace_v2, SQLITE_TRACE_STMT) on connections to a watched file. A traced statement's text is then
/// prepared once more on a side connection with an authorizer, which SQLite tells every column the statement reads
/// (`SELECT *` included, and the bodies of the triggers it fires).
/// </para>
/// </summary>
public sealed class SqliteStatements : IDisposable
{
    private const uint TraceStatement = 0x01;
    private const int ActionRead = 20;

    private static readonly ConcurrentDictionary<string, SqliteStatements> Watched = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<nint, SqliteStatements> ByContext = new();
    private static long _nextContext;

    // Kept in static fields: native code holds pointers to them for the life of the process.
    private static readonly AutoExtension Entry = OnOpen;
    private static readonly TraceCallback Trace = OnStatement;
    private static readonly Lazy<bool> Registered = new(() => sqlite3_auto_extension(Marshal.GetFunctionPointerForDelegate(Entry)) == 0);

    private readonly string _path;
    private readonly nint _context = (nint)Interlocked.Increment(ref _nextContext);
    private readonly ConcurrentQueue<(nint Connection, string Sql)> _statements = new();
    private volatile bool _recording = true;

    private SqliteStatements(string path) => _path = path;

    /// <summary>Starts recording the statements run on this file. Call it before anything opens the file.</summary>
    public static SqliteStatements Watch(string databasePath)
    {
        if (!Registered.Value)
        {
            throw new InvalidOperationException("sqlite3_auto_extension failed");
        }
        var watch = new SqliteStatements(Path.GetFullPath(databasePath));
        ByContext[watch._context] = watch;
        Watched[watch._path] = watch;
        return watch;
    }

    /// <summary>Forgets what was recorded so far: what follows is what the test looks at.</summary>
    public void Restart()
    {
        _statements.Clear();
        _recording = true;
    }

    /// <summary>Stops recording and returns each statement run since the start (or the last restart), in order.</summary>
    public IReadOnlyList<string> Stop() => [.. StopWithConnections().Select(s => s.Sql)];

    /// <summary>As <see cref="Stop"/>, with the connection (its native handle) each statement ran on.</summary>
    public IReadOnlyList<(nint Connection, string Sql)> StopWithConnections()
    {
        _recording = false;
        return [.. _statements];
    }

    /// <summary>The (table, column) pairs a statement reads, as SQLite's authorizer reports them when it prepares it.</summary>
    public IReadOnlySet<(string Table, string Column)> ReadsOf(string sql)
    {
        var reads = new HashSet<(string, string)>();
        using var side = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        side.Open();
        // Foreign key checks read the key columns of related tables; those are SQLite's reads, not the statement's.
        using (var off = side.CreateCommand())
        {
            off.CommandText = "PRAGMA foreign_keys=OFF";
            off.ExecuteNonQuery();
        }
        raw.sqlite3_set_authorizer(side.Handle, (_, action, table, column, _, _) =>
        {
            if (action == ActionRead)
            {
                reads.Add((table.utf8_to_string(), column.utf8_to_string()));
            }
            return raw.SQLITE_OK;
        }, null);
        var rc = raw.sqlite3_prepare_v2(side.Handle, sql, out var statement);
        using (statement)
        {
            if (rc != raw.SQLITE_OK)
            {
                throw new InvalidOperationException($"cannot prepare a traced statement again ({raw.sqlite3_errmsg(side.Handle).utf8_to_string()}): {sql}");
            }
        }
        return reads;
    }

    /// <summary>The statements, of those given, that read any of the columns the filter picks.</summary>
    public IReadOnlyList<string> Reading(IEnumerable<string> statements, Func<string, string, bool> column)
    {
        var classified = new Dictionary<string, bool>(StringComparer.Ordinal);
        var found = new List<string>();
        foreach (var sql in statements)
        {
            if (!classified.TryGetValue(sql, out var reads))
            {
                reads = classified[sql] = ReadsOf(sql).Any(r => column(r.Table, r.Column));
            }
            if (reads)
            {
                found.Add(sql);
            }
        }
        return found;
    }

    public void Dispose()
    {
        _recording = false;
        Watched.TryRemove(new KeyValuePair<string, SqliteStatements>(_path, this));
        ByContext.TryRemove(_context, out _);
    }

    private static int OnOpen(nint db, nint errorMessage, nint api)
    {
        var file = Marshal.PtrToStringUTF8(sqlite3_db_filename(db, "main"));
        if (file is not null && Watched.TryGetValue(file, out var watch))
        {
            sqlite3_trace_v2(db, TraceStatement, Marshal.GetFunctionPointerForDelegate(Trace), watch._context);
        }
        return 0;
    }

    private static int OnStatement(uint type, nint context, nint statement, nint text)
    {
        if (type == TraceStatement && ByContext.TryGetValue(context, out var watch) && watch._recording)
        {
            var sql = Marshal.PtrToStringUTF8(text);
            // A trigger's statements arrive as "-- TRIGGER name"; the statement that fired it was recorded already.
            if (sql is not null && !sql.StartsWith("--", StringComparison.Ordinal))
            {
                watch._statements.Enqueue((sqlite3_db_handle(statement), sql));
            }
        }
        return 0;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int AutoExtension(nint db, nint errorMessage, nint api);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int TraceCallback(uint type, nint context, nint statement, nint text);

    // The same e_sqlite3 library that Microsoft.Data.Sqlite loaded (the app's one native asset of that name).
    [DllImport("e_sqlite3")]
    private static extern int sqlite3_auto_extension(nint entry);

    [DllImport("e_sqlite3")]
    private static extern nint sqlite3_db_handle(nint statement);

    [DllImport("e_sqlite3")]
    private static extern nint sqlite3_db_filename(nint db, [MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("e_sqlite3")]
    private static extern int sqlite3_trace_v2(nint db, uint mask, nint callback, nint context);
}
