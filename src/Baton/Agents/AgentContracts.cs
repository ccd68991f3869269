namespace Baton.Agents;

/// <summary>
/// Token use and cost of one execution, as the agent reported it. <see cref="CostUnknown"/>: some of the tokens have no
/// price (Codex reports none, and the worker has no prices): <see cref="CostUsd"/> is then only the known part (ADR 28).
/// </summary>
public sealed record AgentUsage(long TokensIn, long TokensOut, decimal CostUsd, int ToolCalls, bool CostUnknown = false)
{
    public static readonly AgentUsage None = new(0, 0, 0m, 0);

    /// <summary>
    /// The most an execution's usage may claim. An agent's output is not to be trusted: beyond these a number is a bug
    /// or a lie, and would overflow a sum or PostgreSQL's numeric(20,10), failing the finish instead of the agent.
    /// </summary>
    public const long MaxTokens = 1_000_000_000_000;
    public const decimal MaxCostUsd = 1_000_000m;
    public const int MaxToolCalls = 1_000_000;

    public AgentUsage Add(AgentUsage other) =>
        new(Math.Min(TokensIn + other.TokensIn, MaxTokens), Math.Min(TokensOut + other.TokensOut, MaxTokens),
            Math.Min(CostUsd + other.CostUsd, MaxCostUsd), Math.Min(ToolCalls + other.ToolCalls, MaxToolCalls), CostUnknown || other.CostUnknown);
}

/// <summary>What an agent is asked to do: a rendered prompt, a place to work, artifacts to produce.</summary>
public sealed record AgentRequest(
    string OwnerId,
    string? Phase,
    int Iteration,
    string Prompt,
    string WorkingDirectory,
    string ArtifactsDirectory,
    IReadOnlyList<string> Produces,
    Func<string, string, Task> Log)
{
    /// <summary>Told the process id of a program the agent starts, so a crash can be cleaned up after.</summary>
    public Func<int, Task>? OnProcessStarted { get; init; }

    /// <summary>The workspace's git folders, shown to a sandboxed program so git works in the workspace.</summary>
    public WorktreeGitDirs? Git { get; init; }

    /// <summary>Set when the phase lists tools in `tool_approvals`: the agent asks Baton before using them.</summary>
    public ApprovalChannel? Approvals { get; init; }
}

public sealed record AgentOutcome(IReadOnlyList<ProducedArtifact> Artifacts, string? Summary, AgentUsage Usage);

/// <summary>The agent ran and failed (non-zero exit, an API error after retries): the phase may be attempted again.</summary>
public sealed class AgentFailedException(string message, AgentUsage? usage = null) : Exception(message)
{
    public AgentUsage Usage { get; } = usage ?? AgentUsage.None;
}

/// <summary>An agent that does real work: a command-line program or an OpenAI-compatible model.</summary>
public interface IAgent
{
    Task<AgentOutcome> RunAsync(AgentRequest request, CancellationToken ct);
}

/// <summary>
/// The tools whose use a human approves (a phase's `tool_approvals`, ADR 31), and how the agent asks: the MCP server
/// command (`baton mcp --execution ID`) and what it connects with.
/// </summary>
public sealed record ApprovalChannel(
    string Url, string Key, string ExecutionId, string Command, IReadOnlyList<string> Args, IReadOnlyList<string> Tools, string? DotnetRoot);
