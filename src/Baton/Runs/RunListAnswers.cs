using System.Collections.Concurrent;
using System.Text.Json;
using Baton.Storage;

namespace Baton.Runs;

/// <summary>
/// Pages of the runs list as last sent, by query, kept while no write to `runs` has committed since they were read
/// (<see cref="Database.RunsVersion"/>): dashboards and CLIs poll the same few pages, and between two commits each is
/// read and written once. An answer kept is the answer a read would give: any write to a run changes the version
/// before its writer learns of its commit. Where another node may write runs (PostgreSQL), nothing is kept.
/// </summary>
public sealed class RunListAnswers(Database db)
{
    /// <summary>Beyond this many different queries, the entries start over: memory stays bounded (a page is at most about 70 KiB).</summary>
    private const int MaxEntries = 64;

    private readonly ConcurrentDictionary<RunStore.ListQuery, (byte[] Json, long Version)> _entries = new();

    public async Task<byte[]> GetAsync(RunStore.ListQuery query)
    {
        // Taken before the read: a write committed meanwhile has changed it, and the entry is never trusted.
        var version = db.RunsVersion;
        if (version is not null && _entries.TryGetValue(query, out var kept) && kept.Version == version)
        {
            return kept.Json;
        }
        var list = await db.ReadAsync(c => RunStore.ListAsync(c, null, query));
        var json = JsonSerializer.SerializeToUtf8Bytes(list, RunAnswersJson.Default.RunList);
        if (version is { } read)
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }
            _entries[query] = (json, read);
        }
        return json;
    }
}
