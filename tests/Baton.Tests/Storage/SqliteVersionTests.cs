using Baton.Storage;
using Dapper;

namespace Baton.Tests.Storage;

public sealed class SqliteVersionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-sqlite-").FullName;

    [Fact]
    public async Task The_bundled_sqlite_is_a_current_release_not_the_2021_one()
    {
        // Microsoft.Data.Sqlite.Core 6.0.7 with SQLitePCLRaw 2.0.6 bundled SQLite 3.35.5 (April 2021); the engine's
        // planned write path (RETURNING in more places, newer planner fixes) wants a current one.
        var db = new SqliteDatabase(Path.Combine(_dir, "v.db"));
        await using var connection = await db.OpenAsync();
        var version = Version.Parse(await connection.ExecuteScalarAsync<string>("SELECT sqlite_version()") ?? "0.0");
        Assert.True(version >= new Version(3, 50), $"SQLite {version}");
    }

    public void Dispose()
    {
        using (var pooled = new Microsoft.Data.Sqlite.SqliteConnection(new SqliteDatabase(Path.Combine(_dir, "v.db")).ConnectionString))
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearPool(pooled);
        }
        Directory.Delete(_dir, recursive: true);
    }
}
