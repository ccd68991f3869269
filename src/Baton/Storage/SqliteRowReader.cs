using System.Collections;
using System.Data.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Baton.Storage;

/// <summary>
/// The rows of one statement read straight from SQLite: for the hottest reads (a page of the runs list is 50 rows of 14
/// columns), where reading each column through Microsoft.Data.Sqlite took and released the statement's
/// <see cref="SafeHandle"/> once or twice (<c>DangerousAddRef</c> and <c>InternalRelease</c> were a tenth of the load
/// harness's server CPU; docs/BENCHMARKS.md, session 14). Here the handle is taken once for the whole read, and each
/// column is one short native call on its raw pointer.
/// </summary>
/// <remarks>
/// Made by <see cref="PreparedStatementConnection.ExecuteRows"/> from a statement it keeps prepared; disposing the reader
/// resets that statement, which ends its read of the database (an open statement would hold its snapshot).
/// The typed getters are the fast ones; the rest of <see cref="DbDataReader"/> goes through <see cref="GetValue"/>.
/// </remarks>
internal sealed class SqliteRowReader : DbDataReader
{
    private const int Row = 100;
    private const int Done = 101;
    private static readonly TimeSpan BusyPause = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly IntPtr _handle;
    private readonly Action _release;
    private bool _closed;
    private bool _started;
    private bool _finished;
    private bool _hasRow;

    public SqliteRowReader(sqlite3 db, sqlite3_stmt statement, Action release)
    {
        _db = db;
        _statement = statement;
        _release = release;
        var added = false;
        statement.DangerousAddRef(ref added);
        _handle = statement.DangerousGetHandle();
        FieldCount = raw.sqlite3_column_count(statement);
    }

    public override int FieldCount { get; }

    public override int Depth => 0;

    public override bool HasRows => throw new NotSupportedException("read the rows with Read()");

    public override bool IsClosed => _closed;

    /// <summary>As Microsoft.Data.Sqlite counts them: the rows a statement that writes changed, once it ran to its end; else -1.</summary>
    public override int RecordsAffected => _recordsAffected;

    private int _recordsAffected = -1;

    public override object this[int ordinal] => GetValue(ordinal);

    public override object this[string name] => GetValue(GetOrdinal(name));

    public override bool Read()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        // Stepped again after its last row, SQLite would run the statement from the start.
        if (_finished)
        {
            return false;
        }
        // Busy before the first row can be tried again; after a row, the statement cannot start over.
        var rc = _started ? raw.sqlite3_step(_statement) : WhileBusy(() => raw.sqlite3_step(_statement), () => raw.sqlite3_reset(_statement));
        _started = true;
        if (rc is not (Row or Done))
        {
            // As Microsoft.Data.Sqlite fails: the same exception, codes and message.
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
        _hasRow = rc == Row;
        _finished = !_hasRow;
        if (_finished && raw.sqlite3_stmt_readonly(_statement) == 0)
        {
            _recordsAffected = raw.sqlite3_changes(_db);
        }
        return _hasRow;
    }

    /// <summary>
    /// <paramref name="attempt"/>, tried again while SQLite answers busy or locked, every 150 ms for 30 s, as
    /// Microsoft.Data.Sqlite tries its commands (a reader meets a lock while another connection recovers the WAL, or
    /// holds an exclusive lock outside WAL mode); <paramref name="beforeRetry"/> readies it for the next try.
    /// </summary>
    internal static int WhileBusy(Func<int> attempt, Action? beforeRetry = null)
    {
        var rc = attempt();
        for (var waited = TimeSpan.Zero; (rc & 0xff) is raw.SQLITE_BUSY or raw.SQLITE_LOCKED && waited < BusyTimeout; waited += BusyPause)
        {
            beforeRetry?.Invoke();
            Thread.Sleep(BusyPause);
            rc = attempt();
        }
        return rc;
    }

    public override bool NextResult() => false;

    public override bool IsDBNull(int ordinal) => Native.sqlite3_column_type(Current(ordinal), ordinal) == raw.SQLITE_NULL;

    public override long GetInt64(int ordinal) => Native.sqlite3_column_int64(Current(ordinal), ordinal);

    public override int GetInt32(int ordinal) => checked((int)GetInt64(ordinal));

    public override short GetInt16(int ordinal) => checked((short)GetInt64(ordinal));

    public override byte GetByte(int ordinal) => checked((byte)GetInt64(ordinal));

    public override bool GetBoolean(int ordinal) => GetInt64(ordinal) != 0;

    public override double GetDouble(int ordinal) => Native.sqlite3_column_double(Current(ordinal), ordinal);

    public override float GetFloat(int ordinal) => (float)GetDouble(ordinal);

    public override decimal GetDecimal(int ordinal) => (decimal)GetDouble(ordinal);

    public override string GetString(int ordinal)
    {
        var handle = Current(ordinal);
        // Text first, then its length: asking for the text may convert the value, which sets the length.
        var text = Native.sqlite3_column_text(handle, ordinal);
        if (text == IntPtr.Zero)
        {
            throw new InvalidCastException($"column {ordinal} is NULL");
        }
        return Marshal.PtrToStringUTF8(text, Native.sqlite3_column_bytes(handle, ordinal));
    }

    public override char GetChar(int ordinal) => GetString(ordinal)[0];

    public override DateTime GetDateTime(int ordinal) => DateTime.Parse(GetString(ordinal), CultureInfo.InvariantCulture);

    public override Guid GetGuid(int ordinal) => Guid.Parse(GetString(ordinal));

    public override object GetValue(int ordinal) => Native.sqlite3_column_type(Current(ordinal), ordinal) switch
    {
        raw.SQLITE_INTEGER => GetInt64(ordinal),
        raw.SQLITE_FLOAT => GetDouble(ordinal),
        raw.SQLITE_TEXT => GetString(ordinal),
        raw.SQLITE_BLOB => raw.sqlite3_column_blob(_statement, ordinal).ToArray(),
        _ => DBNull.Value,
    };

    public override int GetValues(object[] values)
    {
        var count = Math.Min(values.Length, FieldCount);
        for (var i = 0; i < count; i++)
        {
            values[i] = GetValue(i);
        }
        return count;
    }

    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length)
    {
        var blob = raw.sqlite3_column_blob(_statement, ordinal);
        if (buffer is null)
        {
            return blob.Length;
        }
        var count = (int)Math.Max(0, Math.Min(length, blob.Length - dataOffset));
        blob.Slice((int)dataOffset, count).CopyTo(buffer.AsSpan(bufferOffset));
        return count;
    }

    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length)
    {
        var text = GetString(ordinal);
        if (buffer is null)
        {
            return text.Length;
        }
        var count = (int)Math.Max(0, Math.Min(length, text.Length - dataOffset));
        text.CopyTo((int)dataOffset, buffer, bufferOffset, count);
        return count;
    }

    public override string GetName(int ordinal) => raw.sqlite3_column_name(_statement, ordinal).utf8_to_string();

    public override int GetOrdinal(string name)
    {
        for (var i = 0; i < FieldCount; i++)
        {
            if (string.Equals(GetName(i), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        throw new IndexOutOfRangeException($"no column named '{name}'");
    }

    public override string GetDataTypeName(int ordinal) => raw.sqlite3_column_decltype(_statement, ordinal).utf8_to_string() ?? "BLOB";

    public override Type GetFieldType(int ordinal) => Native.sqlite3_column_type(Current(ordinal), ordinal) switch
    {
        raw.SQLITE_INTEGER => typeof(long),
        raw.SQLITE_FLOAT => typeof(double),
        raw.SQLITE_BLOB => typeof(byte[]),
        _ => typeof(string),
    };

    public override IEnumerator GetEnumerator() => new DbEnumerator(this, closeReader: false);

    public override void Close()
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        _statement.DangerousRelease();
        _release();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }
        base.Dispose(disposing);
    }

    /// <summary>The raw statement, when a row is there to read and <paramref name="ordinal"/> is one of its columns.</summary>
    private IntPtr Current(int ordinal)
    {
        if (!_hasRow || _closed)
        {
            throw new InvalidOperationException("no row to read: call Read() first");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(ordinal, FieldCount);
        return _handle;
    }

    /// <summary>
    /// SQLite's column getters on the raw statement pointer. Each returns at once without blocking or calling back, so
    /// the runtime's GC transition around the call can be left out.
    /// </summary>
    private static class Native
    {
        private const string Library = "e_sqlite3";

        [DllImport(Library), SuppressGCTransition]
        public static extern int sqlite3_column_type(IntPtr statement, int column);

        [DllImport(Library), SuppressGCTransition]
        public static extern long sqlite3_column_int64(IntPtr statement, int column);

        [DllImport(Library), SuppressGCTransition]
        public static extern double sqlite3_column_double(IntPtr statement, int column);

        [DllImport(Library), SuppressGCTransition]
        public static extern IntPtr sqlite3_column_text(IntPtr statement, int column);

        [DllImport(Library), SuppressGCTransition]
        public static extern int sqlite3_column_bytes(IntPtr statement, int column);
    }
}
