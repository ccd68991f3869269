using System.Data;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Baton.Storage;
using Dapper;

namespace Baton.Runs;

/// <summary>
/// `gate_decisions`, and what a gate decision is bound to (ADR 32): the digest over the waiting phase's artifacts
/// (names and hashes) and the workspace commit. Read inside the decision's transaction, after the run's row lock,
/// so that two approvals racing on two nodes see each other (the second waits for the first's lock, then reads).
/// </summary>
public static class GateStore
{
    private sealed class VoteRow
    {
        public string Decider { get; set; } = "";
        public string Actor { get; set; } = "";
        public string Decision { get; set; } = "";
        public string Digest { get; set; } = "";
        public string? CommitSha { get; set; }
        public string? Comment { get; set; }
        public string? Inputs { get; set; }
        public string? Groups { get; set; }
        public long DecidedAt { get; set; }
    }

    /// <summary>The gate as it is now at <paramref name="phase"/>#<paramref name="iteration"/>.</summary>
    public static async Task<OpenGateState> ReadAsync(IDbConnection c, IDbTransaction? tx, string runId, string phase, int iteration)
    {
        var artifacts = await c.QueryAsync<(string Name, string Sha256)>(
            "SELECT name, sha256 FROM artifacts WHERE run_id = @runId AND phase = @phase AND iteration = @iteration ORDER BY name",
            new { runId, phase, iteration }, tx);
        var commit = await c.QuerySingleOrDefaultAsync<string?>(
            "SELECT finished_commit FROM workspaces WHERE owner_id = @runId AND status = 'active'", new { runId }, tx);
        var createdBy = await c.QuerySingleOrDefaultAsync<string?>("SELECT created_by_key FROM runs WHERE id = @runId", new { runId }, tx);
        var votes = await c.QueryAsync<VoteRow>(
            """
            SELECT decider, actor, decision, digest, commit_sha, comment, inputs, groups, decided_at FROM gate_decisions
            WHERE run_id = @runId AND phase = @phase AND iteration = @iteration ORDER BY decided_at, decider
            """, new { runId, phase, iteration }, tx);
        return new OpenGateState(
            Digest(artifacts, commit),
            commit,
            votes.Select(v => new GateVote(v.Decider, v.Actor, v.Decision, v.Digest, v.CommitSha, v.Comment, v.Inputs, Times.FromMs(v.DecidedAt))
            {
                Groups = GroupsOf(v.Groups),
            }).ToList(),
            createdBy);
    }

    /// <summary>sha256 over each artifact's name and hash, in name order, then the commit: what a reviewer saw.</summary>
    public static string Digest(IEnumerable<(string Name, string Sha256)> artifacts, string? commit)
    {
        var text = new StringBuilder();
        foreach (var (name, sha) in artifacts.OrderBy(a => a.Name, StringComparer.Ordinal))
        {
            text.Append("artifact ").Append(name).Append(' ').Append(sha).Append('\n');
        }
        text.Append("commit ").Append(commit ?? "-").Append('\n');
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public static Task<long?> DeadlineAsync(IDbConnection c, IDbTransaction? tx, string runId, string phase, int iteration) =>
        c.QuerySingleOrDefaultAsync<long?>(
            "SELECT gate_deadline FROM phase_runs WHERE run_id = @runId AND phase = @phase AND iteration = @iteration", new { runId, phase, iteration }, tx);

    public static Task InsertAsync(IDbConnection c, IDbTransaction tx, string runId, string phase, int iteration, GateVote vote) =>
        c.DeferAsync(
            """
            INSERT INTO gate_decisions(run_id, phase, iteration, decider, actor, decision, digest, commit_sha, comment, inputs, groups, decided_at)
            VALUES (@runId, @phase, @iteration, @Decider, @Actor, @Decision, @Digest, @Commit, @Comment, @InputsJson, @groups, @at)
            """,
            new
            {
                runId, phase, iteration, vote.Decider, vote.Actor, vote.Decision, vote.Digest, vote.Commit, vote.Comment, vote.InputsJson,
                groups = vote.Groups.Count == 0 ? null : JsonSerializer.Serialize(vote.Groups),
                at = vote.At.ToMs(),
            }, tx);

    /// <summary>`gate_decisions.groups` (a JSON array, or null for none) as names.</summary>
    public static IReadOnlyList<string> GroupsOf(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];

    /// <summary>A fork's (ADR 38): the parent's gate decisions at <paramref name="phases"/> up to <paramref name="maxIteration"/>, whose values later templates read.</summary>
    public static Task CopyAsync(IDbConnection c, IDbTransaction tx, string parentId, string forkId, IReadOnlyList<string> phases, int maxIteration) =>
        c.DeferAsync(
            $"""
            INSERT INTO gate_decisions(run_id, phase, iteration, decider, actor, decision, digest, commit_sha, comment, inputs, decided_at)
            SELECT @forkId, phase, iteration, decider, actor, decision, digest, commit_sha, comment, inputs, decided_at FROM gate_decisions
            WHERE run_id = @parentId AND iteration <= @maxIteration AND {SqlDialect.Of(c).In("phase", "@phases")}
            """, new { parentId, forkId, maxIteration, phases = phases.ToArray() }, tx);

    /// <summary>
    /// The form values of the approvals of the run @runId, in decision order, for reads that batch it with others;
    /// <see cref="Values"/> maps its rows.
    /// </summary>
    public const string ApprovedValuesOfRun =
        "SELECT phase, inputs FROM gate_decisions WHERE run_id = @runId AND decision = 'approved' AND inputs IS NOT NULL ORDER BY iteration, decided_at, decider";

    /// <summary>
    /// The rows of <see cref="ApprovedValuesOfRun"/> as phase → field → text (`{{gate.PHASE.FIELD}}` in later templates):
    /// a later iteration's approval, or a later approval of the same gate, overrides an earlier value of the field.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Values(IEnumerable<(string Phase, string Inputs)> rows)
    {
        var values = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (phase, inputs) in rows)
        {
            var fields = values.TryGetValue(phase, out var f) ? f : values[phase] = new(StringComparer.Ordinal);
            foreach (var (name, value) in JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(inputs) ?? [])
            {
                fields[name] = GateForms.Text(value);
            }
        }
        return values.ToDictionary(v => v.Key, v => (IReadOnlyDictionary<string, string>)v.Value, StringComparer.Ordinal);
    }
}
