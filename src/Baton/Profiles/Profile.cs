namespace Baton.Profiles;

public enum RunMode
{
    Auto,
    Manual,
}

public enum GateTimeoutAction
{
    Expire,
    Approve,
    Reject,
}

/// <summary>A workflow definition: ordered phases, their workers, gates, checks and limits.</summary>
public sealed record Profile(
    string Name,
    string? Description,
    RunMode Mode,
    int MaxIterations,
    decimal? BudgetUsd,
    IReadOnlyList<PhaseDefinition> Phases)
{
    public const int DefaultMaxIterations = 3;

    public PhaseDefinition? Phase(string name) => Phases.FirstOrDefault(p => p.Name == name);

    public int IndexOf(string name)
    {
        for (var i = 0; i < Phases.Count; i++)
        {
            if (Phases[i].Name == name)
            {
                return i;
            }
        }
        return -1;
    }

    public PhaseDefinition? After(string name)
    {
        var index = IndexOf(name);
        return index >= 0 && index + 1 < Phases.Count ? Phases[index + 1] : null;
    }
}

public sealed record PhaseDefinition(
    string Name,
    string Worker,
    string? Prompt,
    IReadOnlyList<string> Produces,
    IReadOnlyDictionary<string, string> Templates,
    IReadOnlyList<ArtifactCheck> Checks,
    GateDefinition? Gate,
    string? RetryFrom,
    TimeSpan Timeout,
    int MaxAttempts,
    TimeSpan Delay,
    IReadOnlyList<string>? Check = null)
{
    public const string TemplateWorker = "template";
    public const string ExternalWorker = "external";

    /// <summary>The most tools a phase's <see cref="ToolApprovals"/> may list.</summary>
    public const int MaxToolApprovals = 32;

    public bool IsExternal => Worker == ExternalWorker;

    /// <summary>Tools of the agent (Claude Code's Bash, WebFetch ...) whose every use a human approves first (ADR 31).</summary>
    public IReadOnlyList<string> ToolApprovals { get; init; } = [];
}

/// <summary>After the phase, a human approves or rejects; rejection sends the run back to one of <see cref="RejectTo"/> (the first is the default).</summary>
public sealed record GateDefinition(TimeSpan Timeout, GateTimeoutAction OnTimeout, IReadOnlyList<string> RejectTo)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromDays(7);

    /// <summary>Who may decide when a gate names no one: keys with the approver role and above.</summary>
    public static readonly IReadOnlyList<string> DefaultApprovers = ["role:approver"];

    /// <summary>How many distinct keys must approve; one rejection is enough to send the run back.</summary>
    public int Approvals { get; init; } = 1;

    /// <summary>`role:NAME` (that role and above) or `group:NAME` (a key in that group); a key matching any one may decide.</summary>
    public IReadOnlyList<string> Approvers { get; init; } = DefaultApprovers;

    /// <summary>
    /// `require_groups`: how many of the <see cref="Approvals"/> must come from keys of each group (ADR 39). One
    /// approval fills one group's place, so the counts add up to at most <see cref="Approvals"/>.
    /// </summary>
    public IReadOnlyDictionary<string, int> RequiredGroups { get; init; } = new Dictionary<string, int>();

    /// <summary>false (`self_approval: deny`): the key that created the run may neither approve nor reject it.</summary>
    public bool SelfApproval { get; init; } = true;

    /// <summary>While the gate waits, `gate.reminded` comes again after each such interval.</summary>
    public TimeSpan? RemindAfter { get; init; }

    /// <summary>The gate's form: the values an approval carries, usable later as {{gate.PHASE.FIELD}}.</summary>
    public IReadOnlyList<GateInput> Inputs { get; init; } = [];
}

public enum GateInputType
{
    String,
    Text,
    Number,
    Boolean,
    Enum,
}

/// <summary>A field of a gate's form; <see cref="Values"/> are an enum's choices.</summary>
public sealed record GateInput(string Name, GateInputType Type, bool Required, string? Description, IReadOnlyList<string> Values)
{
    /// <summary>The longest `string` value, in characters; a `text` may be as long as a comment.</summary>
    public const int MaxStringLength = 1_000;

    public const int MaxTextLength = 64 * 1024;
}

/// <summary>A validation of a phase's output: the artifact must exist, be non-empty and contain the text (if given).</summary>
public sealed record ArtifactCheck(string Artifact, string? Contains);

public sealed record ProfileError(string File, int Line, string Message, int? Column = null)
{
    /// <summary>file:line: message, or file:line:column: message when the column is known (YAML syntax errors).</summary>
    public override string ToString() => Column is { } column ? $"{File}:{Line}:{column}: {Message}" : $"{File}:{Line}: {Message}";
}
