using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Baton.Client;
using Baton.Tests.Dashboard;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Runs;

/// <summary>
/// Per-key quotas (runs not yet finished, intake bytes stored) and the budget rule: a key over its quota gets a clear
/// problem and creates nothing; only an approver may give a run more budget than its profile's.
/// </summary>
public sealed class QuotaTests : IDisposable
{
    private const string Capped = """
        name: capped
        budget_usd: 10
        phases:
          - name: write
            produces: [out.md]
            gate:
              timeout: 1h
              on_timeout: expire
          - name: publish
        """;

    private readonly BatonFactory _factory = new(profiles: new Dictionary<string, string> { ["capped"] = Capped })
    {
        Settings = { ["BATON_QUOTA_ACTIVE_RUNS"] = "2", ["BATON_QUOTA_STORED_BYTES"] = "10000" },
    };

    private async Task<HttpClient> KeyAsync(string name, string role = "operator")
    {
        var created = await _factory.Client().CreateKeyAsync(new CreateKeyRequest(name, role));
        return _factory.Http(created.Token);
    }

    private async Task<long> RunCountAsync() => (await _factory.Client().ListRunsAsync()).Total;

    private static Task<HttpResponseMessage> CreateAsync(HttpClient http, string intake = "x", decimal? budget = null) =>
        http.PostAsJsonAsync("/api/runs", new { profile = "capped", intake, budget_usd = budget });

    private static async Task AssertQuotaAsync(HttpResponseMessage response, string quota)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:baton:problem:quota", problem.RootElement.GetProperty("type").GetString());
        Assert.Equal(quota, problem.RootElement.GetProperty("quota").GetString());
        Assert.Contains("quota", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_at_its_active_runs_quota_gets_a_quota_problem_and_creates_nothing()
    {
        var operatorA = await KeyAsync("operator-a");
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(operatorA)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(operatorA)).StatusCode);
        var before = await RunCountAsync();

        await AssertQuotaAsync(await CreateAsync(operatorA), "active_runs");
        Assert.Equal(before, await RunCountAsync());

        // Another key has its own quota.
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(await KeyAsync("operator-b"))).StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_stored_bytes_quota_gets_a_quota_problem_and_creates_nothing()
    {
        var operatorC = await KeyAsync("operator-c");
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(operatorC, new string('a', 6_000))).StatusCode);
        var before = await RunCountAsync();

        await AssertQuotaAsync(await CreateAsync(operatorC, new string('b', 5_000)), "stored_bytes");
        Assert.Equal(before, await RunCountAsync());
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(operatorC, new string('c', 3_000))).StatusCode);
    }

    [Fact]
    public async Task A_budget_above_the_profiles_needs_the_approver_role()
    {
        var operatorD = await KeyAsync("operator-d");
        var before = await RunCountAsync();
        var over = await CreateAsync(operatorD, budget: 10.01m);
        Assert.Equal(HttpStatusCode.Forbidden, over.StatusCode);
        using (var problem = JsonDocument.Parse(await over.Content.ReadAsStringAsync()))
        {
            Assert.Contains("approver role", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(before, await RunCountAsync());

        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(operatorD, budget: 10m)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(await KeyAsync("operator-e"), budget: 2.5m)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(await KeyAsync("approver-f", "approver"), budget: 50m)).StatusCode);
    }

    [Fact]
    public async Task The_new_run_form_gives_the_same_message_for_a_budget_above_the_profiles()
    {
        using var browser = await Browser.SignedInAsync(_factory, "operator", "/runs/new");
        using var form = new MultipartFormDataContent
        {
            { new StringContent(browser.Token!), "__csrf" },
            { new StringContent("capped"), "profile" },
            { new StringContent("kept intake"), "intake" },
            { new StringContent("25"), "budget_usd" },
        };
        var before = await RunCountAsync();
        using var response = await browser.Raw.PostAsync("/runs/new", form);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("approver role", html, StringComparison.Ordinal);
        Assert.Contains("kept intake", html, StringComparison.Ordinal);
        Assert.Equal(before, await RunCountAsync());
    }

    /// <summary>
    /// Every create of a key with a quota counts the key's unfinished runs while it holds the key's turn (ADR 52): that
    /// count must read those runs by index, not every run the key ever made. On PostgreSQL, Npgsql prepares the
    /// statement, and after five calls PostgreSQL may keep a generic plan, made without the values: it had become a
    /// sequential scan of all runs, read on every create (issue 11's bench: 4,000 rows a create at 7,000 runs).
    /// </summary>
    [Fact]
    public async Task Counting_a_keys_active_runs_reads_them_by_index_not_every_run()
    {
        var http = await KeyAsync("busy");
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(http)).StatusCode);
        var db = _factory.Service<Baton.Storage.Database>();
        if (!TestDatabase.IsPostgres)
        {
            var sqlitePlan = await db.ReadAsync(async c => string.Join("\n", (await c.QueryAsync<(long, long, long, string Detail)>(
                "EXPLAIN QUERY PLAN " + Baton.Runs.RunStore.CountActiveOfKeySql,
                new { keyId = "key_x", exceptRunId = "run_x", upTo = 1000 })).Select(r => r.Detail)));
            Assert.Contains("SEARCH runs USING INDEX ix_runs_active_by_key (created_by_key=?)", sqlitePlan, StringComparison.Ordinal);
            return;
        }
        // What a busy key looks like: thousands of finished runs, and statistics that say so.
        await db.WriteAsync((c, tx) => c.ExecuteAsync(
            """
            INSERT INTO runs SELECT (jsonb_populate_record(r, jsonb_build_object('id', r.id || '_' || g, 'status', 'completed', 'idempotency_key', NULL))).*
            FROM runs r, generate_series(1, 3000) g
            """, transaction: tx));
        var plan = await db.ReadAsync(async c =>
        {
            await c.ExecuteAsync("ANALYZE runs");
            var sql = Baton.Runs.RunStore.CountActiveOfKeySql.Replace("@keyId", "$1", StringComparison.Ordinal)
                .Replace("@exceptRunId", "$2", StringComparison.Ordinal).Replace("@upTo", "$3", StringComparison.Ordinal);
            await c.ExecuteAsync($"PREPARE quota_count(text, text, bigint) AS {sql}");
            try
            {
                await c.ExecuteAsync("SET plan_cache_mode = force_generic_plan");
                return string.Join("\n", await c.QueryAsync<string>("EXPLAIN EXECUTE quota_count('key_x', 'run_x', 1000)"));
            }
            finally
            {
                await c.ExecuteAsync("RESET plan_cache_mode; DEALLOCATE quota_count");
            }
        });
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
        Assert.Contains("ix_runs_active_by_key", plan, StringComparison.Ordinal);
    }

    public void Dispose() => _factory.Dispose();
}
