using System.Data;
using System.Security.Cryptography;
using System.Text;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Artifacts;

public sealed class ArtifactRow
{
    public string RunId { get; set; } = "";
    public string Name { get; set; } = "";
    public int Iteration { get; set; }
    public string Phase { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public long Size { get; set; }
    public string MediaType { get; set; } = "";
    public long CreatedAt { get; set; }
}

/// <summary>
/// Artifacts are content-addressed blobs (sha256) in the database, one version per iteration, never overwritten. The one
/// owner of the `artifacts` and `blobs` tables' SQL.
/// </summary>
public static class ArtifactStore
{
    public static async Task SaveAsync(IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, string name, string content, DateTimeOffset now)
    {
        // Every artifact, an agent's or one rendered from user text, is stored redacted (ADR 40).
        var bytes = Encoding.UTF8.GetBytes(Ops.Redactor.Process.Redact(content));
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await c.DeferAsync(
            "INSERT INTO blobs(sha256, size, content) VALUES (@sha, @size, @bytes) ON CONFLICT(sha256) DO NOTHING",
            new { sha, size = bytes.Length, bytes }, tx);
        await c.DeferAsync(
            """
            INSERT INTO artifacts(run_id, name, iteration, phase, sha256, size, media_type, created_at)
            VALUES (@runId, @name, @iteration, @phase, @sha, @size, @mediaType, @now)
            """,
            new { runId, name, iteration, phase, sha, size = bytes.Length, mediaType = MediaTypeOf(name), now = now.ToMs() }, tx);
    }

    /// <summary>A fork's (ADR 38): the parent's artifacts of <paramref name="phases"/> up to <paramref name="maxIteration"/>, sharing their blobs.</summary>
    public static Task CopyAsync(IDbConnection c, IDbTransaction tx, string parentId, string forkId, IReadOnlyList<string> phases, int maxIteration) =>
        c.DeferAsync(
            $"""
            INSERT INTO artifacts(run_id, name, iteration, phase, sha256, size, media_type, created_at)
            SELECT @forkId, name, iteration, phase, sha256, size, media_type, created_at FROM artifacts
            WHERE run_id = @parentId AND iteration <= @maxIteration AND {SqlDialect.Of(c).In("phase", "@phases")}
            """, new { parentId, forkId, maxIteration, phases = phases.ToArray() }, tx);

    /// <summary>
    /// The names of the artifacts of the run @runId, from the primary key's index: no content is read. For reads that
    /// batch it with others.
    /// </summary>
    public const string NamesOfRun = "SELECT DISTINCT name FROM artifacts WHERE run_id = @runId ORDER BY name";

    /// <summary>
    /// The newest version of the artifacts of the run @runId named in @names, of those that exist: what a phase builds
    /// on. For reads that batch it with others; <see cref="Contents"/> maps its rows.
    /// </summary>
    public static string LatestOfRun(SqlDialect dialect) => $"""
        SELECT a.name, b.content FROM artifacts a JOIN blobs b ON b.sha256 = a.sha256
        WHERE a.run_id = @runId AND {dialect.In("a.name", "@names")}
          AND a.iteration = (SELECT MAX(x.iteration) FROM artifacts x WHERE x.run_id = a.run_id AND x.name = a.name)
        """;

    /// <summary>The rows of <see cref="LatestOfRun"/> as name → text.</summary>
    public static Dictionary<string, string> Contents(IEnumerable<(string Name, byte[] Content)> rows) =>
        rows.ToDictionary(r => r.Name, r => Encoding.UTF8.GetString(r.Content));

    /// <summary>Every artifact of a run, grouped by phase and iteration in the profile's order.</summary>
    public static async Task<ArtifactManifest> ManifestAsync(IDbConnection c, IDbTransaction? tx, string runId, Profile profile)
    {
        var rows = await c.QueryAsync<ArtifactRow>("SELECT * FROM artifacts WHERE run_id = @runId", new { runId }, tx);
        var groups = rows
            .GroupBy(a => (a.Phase, a.Iteration))
            .OrderBy(g => g.Key.Iteration).ThenBy(g => profile.IndexOf(g.Key.Phase))
            .Select(g => new ArtifactGroup(g.Key.Phase, g.Key.Iteration, g
                .OrderBy(a => a.Name, StringComparer.Ordinal)
                .Select(a => new ArtifactInfo(a.Name, a.Phase, a.Iteration, a.Size, a.Sha256, a.MediaType, Times.FromMs(a.CreatedAt)))
                .ToList()))
            .ToList();
        return new ArtifactManifest(runId, groups);
    }

    /// <summary>One version of a run's artifact: that of <paramref name="iteration"/>, or the newest when it is null.</summary>
    public static Task<ArtifactRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string runId, string name, int? iteration) =>
        c.QuerySingleOrDefaultAsync<ArtifactRow?>(
            iteration is null
                ? "SELECT * FROM artifacts WHERE run_id = @runId AND name = @name ORDER BY iteration DESC LIMIT 1"
                : "SELECT * FROM artifacts WHERE run_id = @runId AND name = @name AND iteration = @iteration",
            new { runId, name, iteration }, tx);

    /// <summary>Every version of a run's artifact, oldest first.</summary>
    public static async Task<List<ArtifactRow>> VersionsAsync(IDbConnection c, IDbTransaction? tx, string runId, string name) =>
        (await c.QueryAsync<ArtifactRow>("SELECT * FROM artifacts WHERE run_id = @runId AND name = @name ORDER BY iteration", new { runId, name }, tx)).ToList();

    /// <summary>The bytes of a version, from its blob.</summary>
    public static Task<byte[]> ContentAsync(IDbConnection c, IDbTransaction? tx, ArtifactRow row) =>
        c.QuerySingleAsync<byte[]>("SELECT content FROM blobs WHERE sha256 = @Sha256", new { row.Sha256 }, tx);

    public static string MediaTypeOf(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".md" => "text/markdown; charset=utf-8",
        ".json" => "application/json",
        ".mmd" => "text/vnd.mermaid; charset=utf-8",
        ".patch" or ".diff" => "text/x-diff; charset=utf-8",
        ".html" => "text/plain; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
}
