using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Profiles;

namespace Baton.Agents;

/// <summary>
/// What a phase's agent is given: the run, the phase, its feedback, and of the intake and earlier artifacts what its
/// templates name (<see cref="TemplateAgent.NeedsOf(PhaseDefinition)"/>); the rest is left unread, so empty here.
/// </summary>
public sealed record AgentInput(
    string RunId,
    string? ProjectName,
    string Intake,
    PhaseDefinition Phase,
    int Iteration,
    string? Feedback,
    EarlierArtifacts Earlier)
{
    /// <summary>The form values of the run's approved gates, by phase then field: {{gate.PHASE.FIELD}}.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Gates { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();
}

/// <summary>A run's earlier artifacts, as far as a phase reads them: every name, and the latest content of some.</summary>
public sealed record EarlierArtifacts(IReadOnlyList<string> Names, IReadOnlyDictionary<string, string> Contents)
{
    public static readonly EarlierArtifacts None = new([], new Dictionary<string, string>());
}

/// <summary>What rendering a template reads of its run besides the phase: the intake, the earlier artifacts' names, some contents.</summary>
public sealed record TemplateNeeds(bool Intake, bool ArtifactNames, IReadOnlySet<string> Artifacts)
{
    /// <summary>The template names a gate's form value ({{gate.PHASE.FIELD}}).</summary>
    public bool GateValues { get; init; }

    public static readonly TemplateNeeds Nothing = new(false, false, new HashSet<string>());
    public static readonly TemplateNeeds TheIntake = Nothing with { Intake = true };
    public static readonly TemplateNeeds TheNames = Nothing with { ArtifactNames = true };
    public static readonly TemplateNeeds TheGateValues = Nothing with { GateValues = true };

    public static TemplateNeeds Contents(params IEnumerable<string> names) => Nothing with { Artifacts = names.ToHashSet(StringComparer.Ordinal) };

    public bool IsNothing => !Intake && !ArtifactNames && Artifacts.Count == 0 && !GateValues;

    public TemplateNeeds With(TemplateNeeds other) =>
        new(Intake || other.Intake, ArtifactNames || other.ArtifactNames, Artifacts.Union(other.Artifacts, StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal))
        {
            GateValues = GateValues || other.GateValues,
        };
}

public sealed record ProducedArtifact(string Name, string Content);

public sealed record AgentResult(IReadOnlyList<ProducedArtifact> Artifacts, IReadOnlyList<string> Log);

/// <summary>
/// The offline agent: renders each artifact the phase produces from the profile's template (or a default one)
/// with the intake, earlier artifacts and reviewer feedback. Deterministic, no model, zero tokens, zero cost.
/// </summary>
public static partial class TemplateAgent
{
    public static async Task<AgentResult> RunAsync(AgentInput input, TimeProvider time, CancellationToken ct)
    {
        if (input.Phase.Delay > TimeSpan.Zero)
        {
            // Pacing for demos and crash tests: the phase takes this long, as a real agent would.
            await Task.Delay(input.Phase.Delay, time, ct);
        }
        var log = new List<string>();
        var artifacts = new List<ProducedArtifact>();
        foreach (var name in input.Phase.Produces)
        {
            var content = Render(TemplateOf(input.Phase, name), input);
            artifacts.Add(new ProducedArtifact(name, content));
            log.Add($"rendered {name} ({Encoding.UTF8.GetByteCount(content)} bytes)");
        }
        if (artifacts.Count == 0)
        {
            log.Add("phase produces no artifacts; nothing to render");
        }
        return new AgentResult(artifacts, log);
    }

    /// <summary>What rendering the phase's artifacts reads: the placeholders of their templates, or of the default ones.</summary>
    public static TemplateNeeds NeedsOf(PhaseDefinition phase) =>
        phase.Produces.Aggregate(TemplateNeeds.Nothing, (needs, name) => needs.With(NeedsOf(TemplateOf(phase, name), phase)));

    /// <summary>What rendering this template for the phase reads, found from its placeholders as <see cref="Lookup"/> resolves them.</summary>
    public static TemplateNeeds NeedsOf(string template, PhaseDefinition phase)
    {
        var needs = TemplateNeeds.Nothing;
        foreach (Match match in Placeholder().Matches(template))
        {
            var arg = match.Groups["arg"].Success ? match.Groups["arg"].Value : null;
            needs = needs.With(match.Groups["key"].Value switch
            {
                "intake" or "title" => TemplateNeeds.TheIntake,
                "artifacts" => TemplateNeeds.TheNames,
                "artifact" or "artifact_size" when arg is not null => TemplateNeeds.Contents(arg),
                "prompt" when phase.Prompt is { } prompt => NeedsOf(prompt, phase with { Prompt = null }),
                "gate" when arg is not null => TemplateNeeds.TheGateValues,
                _ => TemplateNeeds.Nothing,
            });
        }
        return needs;
    }

    private static string TemplateOf(PhaseDefinition phase, string artifact) =>
        phase.Templates.TryGetValue(artifact, out var template) ? template : DefaultTemplate(artifact);

    public static string Render(string template, AgentInput input) =>
        Placeholder().Replace(template, match =>
        {
            var key = match.Groups["key"].Value;
            var arg = match.Groups["arg"].Success ? match.Groups["arg"].Value : null;
            var value = Lookup(key, arg, input);
            return match.Groups["filter"].Value == "json" ? JsonSerializer.Serialize(value) : value?.ToString() ?? "";
        });

    private static object? Lookup(string key, string? arg, AgentInput input) => key switch
    {
        "intake" => input.Intake,
        "title" => Title(input.Intake),
        "project_name" => input.ProjectName ?? "(unnamed)",
        "run_id" => input.RunId,
        "phase" => input.Phase.Name,
        "iteration" => input.Iteration,
        "prompt" => input.Phase.Prompt is { } p ? Render(p, input with { Phase = input.Phase with { Prompt = null } }) : "",
        "feedback" => string.IsNullOrWhiteSpace(input.Feedback) ? "(none)" : input.Feedback,
        "artifacts" => input.Earlier.Names.Order(StringComparer.Ordinal).ToArray(),
        "artifact" => arg is not null && input.Earlier.Contents.TryGetValue(arg, out var content) ? content : "",
        "artifact_size" => arg is not null && input.Earlier.Contents.TryGetValue(arg, out var c) ? Encoding.UTF8.GetByteCount(c) : 0,
        // {{gate.PHASE.FIELD}}: a value the gate's approval gave, or nothing (the gate has not been approved with it).
        "gate" => arg?.Split('.', 2) is [var phase, var field] && input.Gates.TryGetValue(phase, out var fields) && fields.TryGetValue(field, out var value) ? value : "",
        _ => "{{" + key + "}}",
    };

    private static string Title(string intake)
    {
        var first = intake.Split('\n').Select(l => l.Trim().TrimStart('#').Trim()).FirstOrDefault(l => l.Length > 0) ?? "untitled";
        return first.Length > 80 ? first[..80] + "…" : first;
    }

    private static string DefaultTemplate(string artifact) => Path.GetExtension(artifact) switch
    {
        ".json" => """
            {
              "artifact": "ARTIFACT",
              "run_id": {{run_id|json}},
              "phase": {{phase|json}},
              "iteration": {{iteration}},
              "intake": {{intake|json}},
              "inputs": {{artifacts|json}},
              "feedback": {{feedback|json}}
            }
            """.Replace("ARTIFACT", artifact, StringComparison.Ordinal),
        ".md" => "# " + Heading(artifact) + """
            : {{title}}

            _Phase {{phase}} · iteration {{iteration}} · project {{project_name}} · run {{run_id}}_

            ## Brief
            {{prompt}}

            ## Intake
            {{intake}}

            ## Inputs
            Earlier artifacts: {{artifacts|json}}

            ## Reviewer feedback addressed
            {{feedback}}

            """,
        _ => "{{phase}} output for {{title}} (iteration {{iteration}})\n",
    };

    private static string Heading(string artifact)
    {
        var words = Path.GetFileNameWithoutExtension(artifact).Replace('_', ' ').Replace('-', ' ');
        return words.Length == 0 ? artifact : char.ToUpperInvariant(words[0]) + words[1..];
    }

    // `gate.PHASE.FIELD` reads as the key `gate` with the argument `PHASE.FIELD`, like `artifact:NAME`.
    [GeneratedRegex(@"\{\{\s*(?:(?<key>gate)\.(?<arg>[a-z0-9_-]+\.[A-Za-z0-9_]+)|(?<key>[a-z_]+)(?::(?<arg>[A-Za-z0-9._-]+))?)\s*(?:\|\s*(?<filter>json)\s*)?\}\}")]
    private static partial Regex Placeholder();
}
