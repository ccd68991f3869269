using System.Collections.Concurrent;
using Baton.Storage;

namespace Baton.Auth;

/// <summary>
/// The active keys requests came with, by token hash, so that a request need not read its key again. An entry is
/// trusted only while no write to `api_keys` has committed since it was read (<see cref="Database.ApiKeysVersion"/>)
/// and the key has not reached its expiry: a revoke takes effect with its commit, as when every request read its
/// key. Where another node may revoke a key (PostgreSQL), nothing is kept and every request reads it.
/// </summary>
public sealed class ActiveKeys(Database db, TimeProvider time)
{
    /// <summary>Beyond this many keys in use, the entries start over: memory stays bounded whatever comes in.</summary>
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, (ApiKeyRow Key, long Version)> _entries = new(StringComparer.Ordinal);

    /// <summary>The active key with this token, or null (unknown tokens are never kept: they cost a read each).</summary>
    public async Task<ApiKeyRow?> FindAsync(string token, CancellationToken ct)
    {
        var hash = ApiKeys.Hash(token);
        var now = time.GetUtcNow().ToMs();
        // Taken before the read: a revoke committed meanwhile has changed it, and the entry is never trusted.
        var version = db.ApiKeysVersion;
        if (version is not null && _entries.TryGetValue(hash, out var kept) && kept.Version == version
            && (kept.Key.ExpiresAt is null || kept.Key.ExpiresAt > now))
        {
            return kept.Key;
        }
        var key = await db.ReadAsync(c => ApiKeyStore.FindActiveByHashAsync(c, null, hash, now), ct);
        if (key is not null && version is { } read)
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }
            _entries[hash] = (key, read);
        }
        return key;
    }
}
