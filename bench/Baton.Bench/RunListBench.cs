using System.Diagnostics;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Baton.Bench;

internal sealed record QueryResult(string Name, string Path, Distribution Http, Distribution InProcess, Distribution SummaryColumns, int Rows, long Total, string Plan);

internal sealed record ListResult(int Pass, int SeedRuns, int IntakeBytes, double SeedSeconds, long DatabaseBytes, IReadOnlyList<QueryResult> Queries);

/// <summary>
/// Part 3: GET /api/runs over a large table. The runs are inserted straight into SQLite (one transaction, the real
/// migrations) before the server starts; then each query is timed over loopback, and the same query without HTTP.
/// </summary>
internal static class RunListBench
{
    private const int WarmupPerRound = 20;
    private const int PageSize = 50;

    // Filter values: a rare status, a minor profile and one of many projects — the selective cases the indexes are for.
    public const string RareStatus = "awaiting_approval";
    public const string MinorProfile = "pm_architect_engineer_qa";
    public const string OneProject = "project-07";

    private static readonly (string Name, double Share)[] Profiles =
        [("planning_rail", 0.5), ("software_delivery", 0.3), (MinorProfile, 0.2)];

    private sealed record Query(string Name, string? Status, string? Profile, string? Project, int Offset, bool Anonymous = false)
    {
        public string Path => Anonymous
            ? "healthz"
            : "api/runs?" + string.Join('&', new[]
            {
                Status is null ? null : $"status={Status}",
                Profile is null ? null : $"profile={Profile}",
                Project is null ? null : $"project={Project}",
                $"limit={PageSize}",
                Offset == 0 ? null : $"offset={Offset}",
            }.Where(p => p is not null));
    }

    private static readonly Query[] Queries =
    [
        new("first page, no filter", null, null, null, 0),
        new($"status={RareStatus}", RareStatus, null, null, 0),
        new($"profile={MinorProfile}", null, MinorProfile, null, 0),
        new($"project={OneProject}", null, null, OneProject, 0),
        new("deep page, offset=5000", null, null, null, 5000),
        new("deeper page, offset=50000 (not a target; OFFSET is linear)", null, null, null, 50_000),
        new("baseline: GET /healthz (no auth, no DB)", null, null, null, 0, Anonymous: true),
    ];

    public static bool IsFiltered(string name) => name.StartsWith("status=", StringComparison.Ordinal)
        || name.StartsWith("profile=", StringComparison.Ordinal) || name.StartsWith("project=", StringComparison.Ordinal);

    public static async Task<ListResult> RunAsync(BenchOptions options, int pass)
    {
        var dir = BenchServer.NewDataDir(options.DataRoot);
        var databasePath = System.IO.Path.Combine(dir, "baton.db");
        var seedClock = Stopwatch.StartNew();
        try
        {
            await SeedAsync(dir, databasePath, options.SeedRuns, options.IntakeBytes);
        }
        catch
        {
            BenchServer.DeleteDataDir(dir);
            throw;
        }
        var seedSeconds = seedClock.Elapsed.TotalSeconds;
        var bytes = new FileInfo(databasePath).Length;

        await using var server = await BenchServer.StartAsync(dir, options.LatencyWorkers, options.WatchedDataDir);
        var http = server.Client.Http;
        var db = new SqliteDatabase(databasePath);

        await Warmup.UntilJitSettlesAsync(async () =>
        {
            foreach (var q in Queries)
            {
                for (var i = 0; i < WarmupPerRound; i++)
                {
                    await GetAsync(http, q);
                    if (!q.Anonymous)
                    {
                        await db.ReadAsync(c => RunStore.ListAsync(c, null, ToList(q)));
                    }
                }
            }
        });

        // Round-robin over the queries, so that noise from the shared machine spreads over all of them alike.
        var timings = Queries.ToDictionary(q => q, _ => new List<double>(options.Requests));
        var inProcess = Queries.ToDictionary(q => q, _ => new List<double>(options.Requests));
        var summaryColumns = Queries.ToDictionary(q => q, _ => new List<double>(options.Requests));
        for (var i = 0; i < options.Requests; i++)
        {
            foreach (var q in Queries)
            {
                var start = Stopwatch.GetTimestamp();
                await GetAsync(http, q);
                timings[q].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (!q.Anonymous)
                {
                    start = Stopwatch.GetTimestamp();
                    await db.ReadAsync(c => RunStore.ListAsync(c, null, ToList(q)));
                    inProcess[q].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    start = Stopwatch.GetTimestamp();
                    await db.ReadAsync(c => SummaryColumnsAsync(c, q));
                    summaryColumns[q].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        }

        var results = new List<QueryResult>();
        foreach (var q in Queries)
        {
            var (rows, total, plan) = q.Anonymous
                ? (0, 0L, "")
                : await DescribeAsync(server, db, q);
            results.Add(new QueryResult(q.Name, "/" + q.Path, Distribution.Of(timings[q]), Distribution.Of(inProcess[q]),
                Distribution.Of(summaryColumns[q]), rows, total, plan));
        }
        return new ListResult(pass, options.SeedRuns, options.IntakeBytes, seedSeconds, bytes, results);
    }

    private static async Task GetAsync(HttpClient http, Query q)
    {
        // The whole body is read: what a client waits for, without the cost of deserializing it on the client.
        using var response = await http.GetAsync(q.Path);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }

    private static RunStore.ListQuery ToList(Query q) => new(q.Status, q.Profile, q.Project, PageSize, q.Offset);

    /// <summary>
    /// What RunStore.ListAsync would cost selecting only the columns a summary shows instead of <c>SELECT *</c>:
    /// the intake (up to 1 MiB, in overflow pages) is read for every listed row but never returned.
    /// </summary>
    private static async Task<int> SummaryColumnsAsync(System.Data.Common.DbConnection c, Query q)
    {
        var rows = await c.QueryAsync<RunRow>(
            "SELECT id, profile, project_name, status, current_phase, iteration, mode, wait_reason, created_at, updated_at, cost_usd, tokens_used " +
            $"FROM runs WHERE 1 = 1{Where(q)} ORDER BY created_at DESC, id DESC LIMIT @Limit OFFSET @Offset",
            ToList(q));
        await c.ExecuteScalarAsync<long>($"SELECT COALESCE(SUM(count), 0) FROM run_counts WHERE 1 = 1{Where(q)}", ToList(q));
        return rows.Count();
    }

    // The predicates RunStore.ListAsync adds, one per filter given.
    private static string Where(Query q) =>
        (q.Status is null ? "" : " AND status = @Status") + (q.Profile is null ? "" : " AND profile = @Profile")
        + (q.Project is null ? "" : " AND project_name = @Project");

    private static async Task<(int Rows, long Total, string Plan)> DescribeAsync(BenchServer server, SqliteDatabase db, Query q)
    {
        var page = await server.Client.ListRunsAsync(q.Status, q.Profile, q.Project, PageSize, q.Offset);
        // The same SQL RunStore.ListAsync builds, for EXPLAIN QUERY PLAN.
        var plan = await db.ReadAsync(c => c.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>(
            $"EXPLAIN QUERY PLAN SELECT * FROM runs WHERE 1 = 1{Where(q)} ORDER BY created_at DESC, id DESC LIMIT @Limit OFFSET @Offset",
            ToList(q)));
        return (page.Runs.Count, page.Total, string.Join("; ", plan.Select(p => p.Detail)));
    }

    /// <summary>Inserts <paramref name="count"/> runs spread over 90 days, statuses, profiles and projects, in one transaction.</summary>
    public static async Task SeedAsync(string dataDir, string databasePath, int count, int intakeBytes)
    {
        var db = new SqliteDatabase(databasePath);
        await db.MigrateAsync(TimeProvider.System);
        var catalog = new ProfileCatalog(System.IO.Path.Combine(dataDir, "profiles")).Current();
        var profiles = Profiles.Select(p => (Loaded: catalog.Find(p.Name) ?? throw new InvalidOperationException($"built-in profile {p.Name} is missing"), p.Share)).ToList();
        var random = new Random(42);
        var clock = new SeedClock();
        var end = DateTimeOffset.UtcNow.AddMinutes(-1);
        var spanMs = (long)TimeSpan.FromDays(90).TotalMilliseconds;

        await db.WriteAsync(async (c, tx) =>
        {
            foreach (var (loaded, _) in profiles)
            {
                await c.ExecuteAsync(
                    "INSERT INTO profile_versions(hash, name, source, created_at) VALUES (@Hash, @name, @Source, @now) ON CONFLICT(hash) DO NOTHING",
                    new { loaded.Hash, name = loaded.Profile.Name, loaded.Source, now = end.AddDays(-91).ToMs() }, tx);
            }
            // Through the connection's own commands (the server's connections wrap SQLite's to reuse prepared statements).
            using var insert = c.CreateCommand();
            insert.Transaction = (System.Data.Common.DbTransaction)tx;
            insert.CommandText = """
                INSERT INTO runs(id, profile, profile_hash, project_name, status, mode, current_phase, iteration, wait_reason, error,
                                 created_by, created_at, updated_at, completed_at)
                VALUES ($id, $profile, $hash, $project, $status, 'auto', $phase, 1, $wait, $error, 'bench-seed', $created, $updated, $completed);
                INSERT INTO run_intakes(run_id, intake) VALUES ($id, $intake);
                """;
            var p = new[] { "$id", "$profile", "$hash", "$project", "$status", "$phase", "$wait", "$error", "$intake", "$created", "$updated", "$completed" }
                .ToDictionary(n => n, n =>
                {
                    var parameter = insert.CreateParameter();
                    parameter.ParameterName = n;
                    insert.Parameters.Add(parameter);
                    return parameter;
                });
            insert.Prepare();

            for (var i = 0; i < count; i++)
            {
                var created = end.ToMs() - spanMs + (long)((i + random.NextDouble()) * spanMs / count);
                clock.Now = Times.FromMs(created);
                var profile = Pick(profiles, random.NextDouble());
                var phases = profile.Profile.Phases;
                var roll = random.NextDouble();
                var status = roll < 0.70 ? "completed" : roll < 0.85 ? "failed" : roll < 0.95 ? "running" : RareStatus;
                var phase = status == "completed" ? phases[^1].Name : phases[random.Next(phases.Count)].Name;
                long? completed = status is "completed" or "failed" ? created + random.Next(1_000, 3_600_000) : null;

                p["$id"].Value = Ids.New("run", clock);
                p["$profile"].Value = profile.Profile.Name;
                p["$hash"].Value = profile.Hash;
                p["$project"].Value = random.Next(10) == 0 ? DBNull.Value : $"project-{random.Next(25):00}";
                p["$status"].Value = status;
                p["$phase"].Value = phase;
                p["$wait"].Value = status == RareStatus ? "gate" : DBNull.Value;
                p["$error"].Value = status == "failed" ? $"phase {phase} failed: the agent exited with code 1" : DBNull.Value;
                p["$intake"].Value = TransitionsBench.Intake(i, intakeBytes);
                p["$created"].Value = created;
                p["$updated"].Value = completed ?? created + random.Next(1_000, 600_000);
                p["$completed"].Value = completed is { } v ? v : DBNull.Value;
                insert.ExecuteNonQuery();
            }
        });
        // A server that has lived through 100k runs has long checkpointed them into the main file.
        await using (var c = await db.OpenAsync())
        {
            await c.ExecuteAsync("PRAGMA wal_checkpoint(TRUNCATE)");
        }
        SqliteConnection.ClearAllPools();
    }

    private static LoadedProfile Pick(List<(LoadedProfile Loaded, double Share)> profiles, double roll)
    {
        foreach (var (loaded, share) in profiles)
        {
            roll -= share;
            if (roll < 0)
            {
                return loaded;
            }
        }
        return profiles[^1].Loaded;
    }

    private sealed class SeedClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
