using Baton.Agents;
using Baton.Artifacts;
using Baton.Profiles;
using Baton.Runs;
using Baton.Storage;

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

    /// <summary>Reads what <paramref name="needs"/> names, on a read connection: outside the write transaction, which writers queue behind.</summary>
    public static async Task<PhaseInputs> ReadAsync(Database db, string runId, TemplateNeeds needs, CancellationToken ct)
    {
        if (needs.IsNothing)
        {
            return None;
        }
        return await db.ReadAsync(async c => new PhaseInputs(
            needs.Intake ? await RunIntakes.ReadAsync(c, null, runId) : "",
            new EarlierArtifacts(
                needs.ArtifactNames ? await ArtifactStore.NamesAsync(c, null, runId) : [],
                await ArtifactStore.LatestContentsAsync(c, null, runId, [.. needs.Artifacts])))
        {
            Gates = needs.GateValues ? await GateStore.ValuesAsync(c, null, runId) : new Dictionary<string, IReadOnlyDictionary<string, string>>(),
        }, ct);
    }
}
