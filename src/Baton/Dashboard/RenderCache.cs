using Microsoft.Extensions.Caching.Memory;

namespace Baton.Dashboard;

/// <summary>
/// Rendered artifacts by content: an artifact's bytes never change (blobs are content-addressed), so a page view of
/// content already rendered costs a lookup, and a viewer reloading a large document does not redo its work.
/// Bounded by the characters it holds; the least recently used go first.
/// </summary>
public sealed class RenderCache : IDisposable
{
    /// <summary>About 64 MB of rendered markup (two bytes a character).</summary>
    public const long MaxChars = 32 * 1024 * 1024;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = MaxChars, CompactionPercentage = 0.25 });
    private long _computed;

    /// <summary>How many renderings were computed rather than found: the cache's own measure, for tests and metrics.</summary>
    public long Computed => Interlocked.Read(ref _computed);

    /// <summary>The rendering of the content whose sha256 is <paramref name="sha256"/> by the renderer <paramref name="kind"/>.</summary>
    public async Task<Markup> GetOrRenderAsync(string kind, string sha256, Func<Task<Markup>> render)
    {
        var key = kind + ":" + sha256;
        if (_cache.TryGetValue(key, out Markup found))
        {
            return found;
        }
        var rendered = await render();
        Interlocked.Increment(ref _computed);
        _cache.Set(key, rendered, new MemoryCacheEntryOptions { Size = Math.Max(1, rendered.Value.Length) });
        return rendered;
    }

    public void Dispose() => _cache.Dispose();
}
