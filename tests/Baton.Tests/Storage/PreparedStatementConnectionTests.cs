using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Tests.Storage;

/// <summary>
/// What Dapper runs on the writer's and readers' connections binds its values on a kept statement
/// (<see cref="PreparedStatementConnection"/>): it must store, count and fail exactly as Microsoft.Data.Sqlite does.
/// </summary>
public sealed class PreparedStatementConnectionTests : IDisposable
{
    private enum Colour { Red = 2 }

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("baton-prepared-");
    private readonly string _connectionString;

    public PreparedStatementConnectionTests()
    {
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_dir.FullName, "p.db"), Pooling = false }.ToString();
        using var setup = new SqliteConnection(_connectionString);
        // No type on x: SQLite keeps each value as it was bound, so typeof() and quote() show the binding itself.
        setup.Execute("""
            PRAGMA journal_mode=WAL;
            CREATE TABLE plain (k INTEGER PRIMARY KEY, x);
            CREATE TABLE kept (k INTEGER PRIMARY KEY, x);
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'b');
            """);
    }

    public static TheoryData<string, object?> Values() => new()
    {
        { "null", null },
        { "DBNull", DBNull.Value },
        { "empty text", "" },
        { "unicode text", "ünïcødé ✓ 𝄞" },
        { "long", long.MaxValue },
        { "int", -7 },
        { "short", (short)300 },
        { "byte", (byte)255 },
        { "true", true },
        { "false", false },
        { "double", 1.5 },
        { "negative zero", -0.0 },
        { "huge double", 1e300 },
        { "decimal", 0.0123m },
        { "whole decimal", 12m },
        { "decimal with a trailing zero", 1.10m },
        { "largest decimal", decimal.MaxValue },
        { "blob", new byte[] { 0, 255, 7 } },
        { "empty blob", Array.Empty<byte>() },
        // Bound by Microsoft.Data.Sqlite, as before: their binding depends on more than the value.
        { "date", new DateTimeOffset(2026, 12, 7, 10, 30, 0, TimeSpan.FromHours(2)) },
        { "guid", Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e") },
        { "char", 'z' },
        { "enum", Colour.Red },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void A_value_is_stored_as_Microsoft_Data_Sqlite_stores_it(string kind, object? value)
    {
        using (var plain = new SqliteConnection(_connectionString))
        {
            plain.Execute("INSERT INTO plain (k, x) VALUES (1, @x)", new { x = value });
        }
        using var connection = Open();
        connection.Execute("INSERT INTO kept (k, x) VALUES (1, @x)", new { x = value });

        var expected = connection.QuerySingle<(string, string)>("SELECT typeof(x), quote(x) FROM plain");
        var actual = connection.QuerySingle<(string, string)>("SELECT typeof(x), quote(x) FROM kept");
        Assert.True(expected == actual, $"{kind}: {expected} before, {actual} now");
    }

    [Fact]
    public void Writes_and_scalars_bind_here_and_prepare_once()
    {
        var prepares = 0;
        using var connection = Open(() => prepares++);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(2, connection.Execute("UPDATE t SET name = @name WHERE name IN (@a, @b) AND id > @min", new { name = "b", a = "b", b = "c", min = 1 }));
            // The same parameters in another order: still bound to the right names.
            Assert.Equal(2, connection.Execute("UPDATE t SET name = @name WHERE name IN (@a, @b) AND id > @min", new { min = 1, b = "c", a = "b", name = "b" }));
        }
        Assert.Equal(1, prepares);
        Assert.Equal(6, connection.BoundHere);
    }

    [Fact]
    public void Rows_affected_and_scalars_are_what_Microsoft_Data_Sqlite_gives()
    {
        using var plain = new SqliteConnection(_connectionString);
        using var connection = Open();
        foreach (var c in new System.Data.IDbConnection[] { plain, connection })
        {
            c.Execute("DELETE FROM t WHERE id > 3");
            Assert.Equal(2, c.Execute("UPDATE t SET name = name WHERE name = @name", new { name = "b" }));
            Assert.Equal(0, c.Execute("UPDATE t SET name = name WHERE name = @name", new { name = "none" }));
            Assert.Equal(-1, c.Execute("SELECT id FROM t WHERE id > @id", new { id = 0 }));
            Assert.Equal(4L, c.ExecuteScalar<long>("INSERT INTO t (id, name) VALUES (@id, @name) RETURNING id", new { id = 4, name = "d" }));
            Assert.Equal(2L, c.ExecuteScalar<long>("SELECT COUNT(*) FROM t WHERE name = @name", new { name = "b" }));
            Assert.Null(c.ExecuteScalar<string?>("SELECT name FROM t WHERE id = @id", new { id = 99 }));
            Assert.Equal("a", c.ExecuteScalar<string>("SELECT name FROM t WHERE id = @id", new { id = 1 }));
        }
        Assert.Equal(8, connection.BoundHere);
    }

    [Fact]
    public void A_constraint_fails_as_it_did_and_the_statement_runs_again_after()
    {
        const string Insert = "INSERT INTO t (id, name) VALUES (@id, @name)";
        using var plain = new SqliteConnection(_connectionString);
        var expected = Assert.Throws<SqliteException>(() => plain.Execute(Insert, new { id = 1, name = (string?)null }));
        using var connection = Open();

        var failed = Assert.Throws<SqliteException>(() => connection.Execute(Insert, new { id = 1, name = (string?)null }));

        Assert.Equal((expected.SqliteErrorCode, expected.SqliteExtendedErrorCode, expected.Message), (failed.SqliteErrorCode, failed.SqliteExtendedErrorCode, failed.Message));
        Assert.Equal(1, connection.Execute(Insert, new { id = 9, name = "i" }));
        Assert.Equal(2, connection.BoundHere);
    }

    [Fact]
    public void A_command_outside_the_open_transaction_is_refused_as_before()
    {
        using var connection = Open();
        using var tx = connection.BeginTransaction();

        Assert.Throws<InvalidOperationException>(() => connection.Execute("UPDATE t SET name = @name WHERE id = 1", new { name = "x" }));
        Assert.Equal(1, connection.Execute("UPDATE t SET name = @name WHERE id = 1", new { name = "x" }, tx));
        tx.Rollback();

        Assert.Equal("a", connection.ExecuteScalar<string>("SELECT name FROM t WHERE id = @id", new { id = 1 }));
    }

    [Fact]
    public void Several_statements_and_missing_values_still_go_through_Microsoft_Data_Sqlite()
    {
        using var connection = Open();
        Assert.Equal(2, connection.Execute("INSERT INTO t (id, name) VALUES (@a, 'x'); INSERT INTO t (id, name) VALUES (@b, 'y')", new { a = 10, b = 11 }));
        Assert.Equal(2, connection.Execute("INSERT INTO t (id, name) VALUES (@a, 'x'); INSERT INTO t (id, name) VALUES (@b, 'y')", new { a = 12, b = 13 }));

        var missing = Assert.Throws<InvalidOperationException>(() => connection.Execute("UPDATE t SET name = @name WHERE id = @id", new { id = 1 }));
        Assert.Contains("@name", missing.Message, StringComparison.Ordinal);
        Assert.Equal(0, connection.BoundHere);
        Assert.Equal(6L, connection.ExecuteScalar<long>("SELECT COUNT(*) FROM t WHERE id >= @id", new { id = 0 }) - 1);
    }

    private PreparedStatementConnection Open(Action? onPrepare = null)
    {
        var connection = new PreparedStatementConnection(_connectionString, onPrepare);
        connection.Open();
        return connection;
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
