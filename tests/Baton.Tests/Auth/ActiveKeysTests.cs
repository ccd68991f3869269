using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;

namespace Baton.Tests.Auth;

/// <summary>A request's key is read once, and trusted again only until a write to the keys commits or the key expires.</summary>
public sealed class ActiveKeysTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-keys-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero));
    private Database _db = null!;

    public async Task InitializeAsync()
    {
        _db = TestDatabase.Open(_dataDir);
        await _db.MigrateAsync(_time);
    }

    [Fact]
    public async Task A_key_is_read_once_until_any_key_changes_and_a_revoke_takes_effect_with_its_commit()
    {
        var ci = await CreateAsync("ci", expiresAt: null);
        var keys = new ActiveKeys(_db, _time);

        Assert.Equal(ci.KeyId, (await keys.FindAsync(ci.Token, default))?.Id);
        // On SQLite this process makes every write, so the second request trusts the first's read; on PostgreSQL
        // another node may have revoked the key meanwhile, so each request reads it.
        Assert.Equal(TestDatabase.IsPostgres ? 1 : 0, await ReadsOfAsync(() => keys.FindAsync(ci.Token, default)));

        // Any committed write to the keys (here another key) makes every kept key be read again.
        await CreateAsync("other", expiresAt: null);
        Assert.Equal(1, await ReadsOfAsync(() => keys.FindAsync(ci.Token, default)));
        Assert.Equal(TestDatabase.IsPostgres ? 1 : 0, await ReadsOfAsync(() => keys.FindAsync(ci.Token, default)));

        Assert.True(await _db.WriteAsync((c, tx) => ApiKeyStore.RevokeAsync(c, tx, ci.KeyId, _time.GetUtcNow().ToMs())));
        Assert.Null(await keys.FindAsync(ci.Token, default));
        Assert.Null(await keys.FindAsync("bat_" + new string('x', 43), default));
    }

    [Fact]
    public async Task A_kept_key_stops_working_when_it_expires()
    {
        var temp = await CreateAsync("temp", expiresAt: _time.GetUtcNow().AddMinutes(10));
        var keys = new ActiveKeys(_db, _time);
        Assert.NotNull(await keys.FindAsync(temp.Token, default));
        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.NotNull(await keys.FindAsync(temp.Token, default));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await keys.FindAsync(temp.Token, default));
    }

    private async Task<CreatedKey> CreateAsync(string name, DateTimeOffset? expiresAt) =>
        Assert.IsType<KeyCreation.Created>(await ApiKeys.CreateAsync(_db, new CreateKeyRequest(name, Roles.Viewer, expiresAt), "test", _time)).Key;

    private async Task<long> ReadsOfAsync(Func<Task<ApiKeyRow?>> find)
    {
        var before = _db.Reads;
        Assert.NotNull(await find());
        return _db.Reads - before;
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
    }
}
