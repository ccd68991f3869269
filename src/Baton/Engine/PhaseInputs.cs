using Baton.Agents;
using Baton.Artifacts;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

/// <summary>
/// What a phase reads of its run before its agent starts: the intake and earlier artifacts, each only when the
/// phase's templates (or its worker's prompt) or its checks name it. Either can be megabytes, and most phases name
/// few or none, so a phase reads just those, and a phase that names none opens no connection at all.
/// </summary>
public sealed record PhaseInputs(string Intake, EarlierArtifacts Earlier)
{
    /// <summary>The run's approved gates' form values, when the phase's templates name one.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Gates { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();

    public static readonly PhaseInputs None = new("", EarlierArtifacts.None);

    /// <summary>What the phase reads. <paramref name="prompt"/> is the prompt a worker is given (its templates are then not rendered), or null for the template agent.</summary>
    public static TemplateNeeds NeedsOf(PhaseDefinition phase, string? prompt) =>
        (prompt is null ? TemplateAgent.NeedsOf(phase) : TemplateAgent.NeedsOf(prompt, phase))
            .With(TemplateNeeds.Contents(Checks.EarlierArtifactsChecked(phase)));

    /// <summary>
    /// Reads what <paramref name="needs"/> names, on a read connection: outside the write transaction, which writers queue
    /// behind. One batch: on PostgreSQL, one round trip.
    /// </summary>
    public static async Task<PhaseInputs> ReadAsync(Database db, string runId, TemplateNeeds needs, CancellationToken ct)
    {
        if (needs.IsNothing)
        {
            return None;
        }
        return await db.ReadAsync(async c =>
        {
            var named = needs.Artifacts.ToArray();
            var sql = ReadBatch.Of(
                needs.Intake ? RunIntakes.OfRun : null,
                needs.ArtifactNames ? ArtifactStore.NamesOfRun : null,
                named.Length > 0 ? ArtifactStore.LatestOfRun(SqlDialect.Of(c)) : null,
                needs.GateValues ? GateStore.ApprovedValuesOfRun : null);
            using var read = await c.QueryMultipleAsync(new CommandDefinition(sql, new { runId, names = named }, cancellationToken: ct));
            var intake = needs.Intake ? await read.ReadSingleOrDefaultAsync<string>() ?? "" : "";
            IReadOnlyList<string> names = needs.ArtifactNames ? [.. await read.ReadAsync<string>()] : [];
            var contents = named.Length > 0 ? ArtifactStore.Contents(await read.ReadAsync<(string, byte[])>()) : [];
            return new PhaseInputs(intake, new EarlierArtifacts(names, contents))
            {
                Gates = needs.GateValues ? GateStore.Values(await read.ReadAsync<(string, string)>()) : new Dictionary<string, IReadOnlyDictionary<string, string>>(),
            };
        }, ct);
    }
}
