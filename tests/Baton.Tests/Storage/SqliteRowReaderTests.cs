using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Storage;

/// <summary>
/// The hottest reads on SQLite go straight to the statement (<see cref="SqliteRowReader"/>): they must read what
/// Microsoft.Data.Sqlite reads, keep their statement prepared, and let go of the database when done.
/// </summary>
public sealed class SqliteRowReaderTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("baton-rows-");
    private readonly string _connectionString;

    public SqliteRowReaderTests()
    {
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_dir.FullName, "rows.db"), Pooling = false }.ToString();
        using var setup = new SqliteConnection(_connectionString);
        setup.Execute("""
            PRAGMA journal_mode=WAL;
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, amount REAL, flag INTEGER, data BLOB);
            INSERT INTO t VALUES (1, 'plain', 1.5, 1, x'00ff'), (2, 'ünïcødé ✓ 𝄞', -0.25, 0, NULL), (3, NULL, NULL, NULL, NULL), (4, '', 1e300, 9007199254740993, x'');
            """);
    }

    [Fact]
    public async Task Every_column_reads_as_Microsoft_Data_Sqlite_reads_it()
    {
        using var connection = Open();
        const string Sql = "SELECT id, name, amount, flag, data FROM t WHERE id >= @from ORDER BY id";
        var expected = ReadAll(connection.ExecuteReader(Sql, new { from = 1 }));

        using var rows = await Rows.ReadAsync(connection, null, Sql, new Dictionary<string, object?> { ["from"] = 1 });

        Assert.IsType<SqliteRowReader>(rows);
        var actual = ReadAll(rows);
        Assert.Equal(4, actual.Count);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Typed_getters_read_each_kind_of_value()
    {
        using var connection = Open();
        using var rows = connection.ExecuteRows("SELECT id, name, amount, flag FROM t WHERE id IN (2, 4) ORDER BY id", new Dictionary<string, object?>());

        Assert.True(rows.Read());
        Assert.Equal(2, rows.GetInt32(0));
        Assert.Equal("ünïcødé ✓ 𝄞", rows.GetString(1));
        Assert.Equal(-0.25, rows.GetDouble(2));
        Assert.False(rows.GetBoolean(3));
        Assert.True(rows.Read());
        Assert.Equal("", rows.GetString(1));
        Assert.Equal(9007199254740993L, rows.GetInt64(3));
        Assert.Throws<OverflowException>(() => rows.GetInt32(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => rows.GetString(4));
        Assert.False(rows.Read());
        Assert.False(rows.Read());
        Assert.Throws<InvalidOperationException>(() => rows.GetString(0));
    }

    [Fact]
    public void A_null_is_not_read_as_a_string()
    {
        using var connection = Open();
        using var rows = connection.ExecuteRows("SELECT name FROM t WHERE id = 3", new Dictionary<string, object?>());
        Assert.True(rows.Read());
        Assert.True(rows.IsDBNull(0));
        Assert.Throws<InvalidCastException>(() => rows.GetString(0));
    }

    [Fact]
    public void Parameters_bind_by_name_whatever_their_kind()
    {
        using var connection = Open();
        var args = new Dictionary<string, object?> { ["name"] = "plain", ["min"] = 1.0, ["flag"] = true, ["id"] = 1L, ["none"] = null };
        using var rows = connection.ExecuteRows(
            "SELECT COUNT(*) FROM t WHERE name = @name AND amount >= @min AND flag = @flag AND id = @id AND @none IS NULL", args);
        Assert.True(rows.Read());
        Assert.Equal(1, rows.GetInt64(0));
    }

    [Fact]
    public void A_statement_is_prepared_once_and_a_read_inside_its_rows_gets_one_of_its_own()
    {
        var prepares = 0;
        using var connection = Open(() => prepares++);
        const string Sql = "SELECT id FROM t WHERE id <= @max ORDER BY id";
        var args = new Dictionary<string, object?> { ["max"] = 2 };
        for (var i = 0; i < 3; i++)
        {
            using var rows = connection.ExecuteRows(Sql, args);
            Assert.True(rows.Read());
        }
        Assert.Equal(1, prepares);

        // The same text again while its statement is still being read: the outer rows go on undisturbed.
        var ids = new List<long>();
        using (var outer = connection.ExecuteRows(Sql, args))
        {
            while (outer.Read())
            {
                using var inner = connection.ExecuteRows(Sql, new Dictionary<string, object?> { ["max"] = 4 });
                var count = 0;
                while (inner.Read())
                {
                    count++;
                }
                Assert.Equal(4, count);
                ids.Add(outer.GetInt64(0));
            }
        }
        Assert.Equal([1L, 2L], ids);
        Assert.Equal(1, prepares);
    }

    [Fact]
    public void A_reader_left_mid_rows_lets_go_of_the_database_when_disposed()
    {
        using var reader = Open();
        const string Sql = "SELECT id FROM t ORDER BY id";
        using (var rows = reader.ExecuteRows(Sql, new Dictionary<string, object?>()))
        {
            Assert.True(rows.Read());
        }

        using var writer = new SqliteConnection(_connectionString);
        writer.Execute("INSERT INTO t (id, name) VALUES (5, 'new')");
        // A statement still open would hold its snapshot, and a truncating checkpoint would report itself blocked.
        var (busy, _, _) = writer.QuerySingle<(long, long, long)>("PRAGMA wal_checkpoint(TRUNCATE)");
        Assert.Equal(0, busy);

        using var again = reader.ExecuteRows(Sql, new Dictionary<string, object?>());
        var count = 0;
        while (again.Read())
        {
            count++;
        }
        Assert.Equal(5, count);
    }

    [Fact]
    public void Bad_statements_and_missing_values_are_refused_and_the_statement_stays_usable()
    {
        using var connection = Open();
        var error = Assert.Throws<SqliteException>(() => connection.ExecuteRows("SELECT nope FROM t", new Dictionary<string, object?>()));
        Assert.Contains("no such column", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => connection.ExecuteRows("SELECT 1; SELECT 2", new Dictionary<string, object?>()));

        const string Sql = "SELECT name FROM t WHERE id = @id";
        var missing = Assert.Throws<ArgumentException>(() => connection.ExecuteRows(Sql, new Dictionary<string, object?>()));
        Assert.Contains("@id", missing.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => connection.ExecuteRows(Sql, new Dictionary<string, object?> { ["id"] = new object() }));

        using var rows = connection.ExecuteRows(Sql, new Dictionary<string, object?> { ["id"] = 1 });
        Assert.True(rows.Read());
        Assert.Equal("plain", rows.GetString(0));
    }

    [Fact]
    public async Task A_read_that_meets_a_lock_waits_for_it_instead_of_failing()
    {
        // A rollback-journal database, where a writer's exclusive lock keeps readers out (WAL readers meet one rarely).
        var path = Path.Combine(_dir.FullName, "locked.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        using var writer = new SqliteConnection(connectionString);
        writer.Open();
        writer.Execute("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
        writer.Execute("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);");
        using var reader = new PreparedStatementConnection(connectionString);
        reader.Open();

        var read = Task.Run(() =>
        {
            using var rows = reader.ExecuteRows("SELECT COUNT(*) FROM t", new Dictionary<string, object?>());
            return rows.Read() ? rows.GetInt64(0) : -1;
        });
        await Task.Delay(400);
        Assert.False(read.IsCompleted);
        writer.Execute("COMMIT");

        Assert.Equal(2, await read);
    }

    private PreparedStatementConnection Open(Action? onPrepare = null)
    {
        var connection = new PreparedStatementConnection(_connectionString, onPrepare);
        connection.Open();
        return connection;
    }

    private static List<string> ReadAll(System.Data.IDataReader reader)
    {
        var rows = new List<string>();
        while (reader.Read())
        {
            var id = reader.GetInt64(0);
            var name = reader.IsDBNull(1) ? "<null>" : reader.GetString(1);
            var amount = reader.IsDBNull(2) ? "<null>" : reader.GetDouble(2).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            var flag = reader.IsDBNull(3) ? "<null>" : reader.GetInt64(3).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var data = reader.IsDBNull(4) ? "<null>" : Convert.ToHexString((byte[])reader.GetValue(4));
            rows.Add($"{id}|{name}|{amount}|{flag}|{data}|{reader.GetValue(1)}");
        }
        return rows;
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
