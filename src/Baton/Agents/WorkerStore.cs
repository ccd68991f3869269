using System.Data;
using System.Text.Json;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;
using Dapper;

namespace Baton.Agents;

public sealed class WorkerRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Config { get; set; } = "";
    public int Concurrency { get; set; }
    public long CreatedAt { get; set; }

    /// <summary>snake_case fields, but dictionary keys kept as written: they are environment variable names.</summary>
    public static readonly JsonSerializerOptions ConfigJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public WorkerDefinition ToDefinition() => new(Id, Name, Kind, JsonSerializer.Deserialize<WorkerConfig>(Config, ConfigJson)!, Concurrency);

    public WorkerInfo ToInfo()
    {
        var c = ToDefinition().Config;
        return new WorkerInfo(Id, Name, Kind, c.Argv, c.Env, c.SecretEnv, c.Usage, c.BaseUrl, c.Model, c.ApiKeyEnv,
            c.InputPricePerMtok, c.OutputPricePerMtok, c.MaxTokens, c.SystemPrompt, c.Timeout is { } t ? Durations.Format(t) : null,
            Concurrency, Times.FromMs(CreatedAt), c.Network, c.PassEnv, c.CachedInputPricePerMtok, c.Codex);
    }
}

/// <summary>
/// The `workers` table: the agent definitions profiles and standalone executions name, with their settings as JSON.
/// `template` and `external` are built in and have no row. The job claim reads a worker's concurrency inside its own
/// statement (<see cref="Engine.JobQueue"/>).
/// </summary>
public static class WorkerStore
{
    /// <summary>A worker by id or by name.</summary>
    public static Task<WorkerRow?> FindAsync(IDbConnection c, IDbTransaction? tx, string idOrName) =>
        c.QuerySingleOrDefaultAsync<WorkerRow>("SELECT * FROM workers WHERE id = @idOrName OR name = @idOrName", new { idOrName }, tx);

    /// <summary>The id of the worker with this name, or null when there is none (any more).</summary>
    public static Task<string?> IdOfAsync(IDbConnection c, IDbTransaction? tx, string name) =>
        c.ExecuteScalarAsync<string?>("SELECT id FROM workers WHERE name = @name", new { name }, tx);

    public static Task<IEnumerable<WorkerRow>> ListAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<WorkerRow>("SELECT * FROM workers ORDER BY name", transaction: tx);

    public static Task<IEnumerable<string>> NamesAsync(IDbConnection c, IDbTransaction? tx) =>
        c.QueryAsync<string>("SELECT name FROM workers ORDER BY name", transaction: tx);

    /// <summary>Those of <paramref name="names"/> that name a worker.</summary>
    public static Task<IEnumerable<string>> ExistingNamesAsync(IDbConnection c, IDbTransaction? tx, IReadOnlyCollection<string> names) =>
        c.QueryAsync<string>($"SELECT name FROM workers WHERE {SqlDialect.Of(c).In("name", "@names")}", new { names = names.ToArray() }, tx);

    /// <summary>Inserts a worker unless one of its name exists: whether it did.</summary>
    public static async Task<bool> InsertAsync(IDbConnection c, IDbTransaction tx, WorkerRow row, string createdBy) =>
        await c.ExecuteAsync(
            """
            INSERT INTO workers(id, name, kind, config, concurrency, created_by, created_at) VALUES (@Id, @Name, @Kind, @Config, @Concurrency, @createdBy, @CreatedAt)
            ON CONFLICT(name) DO NOTHING
            """,
            new { row.Id, row.Name, row.Kind, Config = new JsonParameter(row.Config), row.Concurrency, createdBy, row.CreatedAt }, tx) == 1;

    /// <summary>A worker from a file (created_by 'file'): it replaces the settings of the worker of the same name.</summary>
    public static Task UpsertFromFileAsync(IDbConnection c, IDbTransaction tx, WorkerRow row) =>
        c.ExecuteAsync(
            """
            INSERT INTO workers(id, name, kind, config, concurrency, created_by, created_at)
            VALUES (@Id, @Name, @Kind, @Config, @Concurrency, 'file', @CreatedAt)
            ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, config = excluded.config, concurrency = excluded.concurrency
            """, new { row.Id, row.Name, row.Kind, Config = new JsonParameter(row.Config), row.Concurrency, row.CreatedAt }, tx);

    public static async Task<bool> DeleteAsync(IDbConnection c, IDbTransaction tx, string id) =>
        await c.ExecuteAsync("DELETE FROM workers WHERE id = @id", new { id }, tx) == 1;
}
