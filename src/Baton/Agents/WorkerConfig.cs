namespace Baton.Agents;

public static class WorkerKinds
{
    public const string Template = "template";
    public const string External = "external";
    public const string Command = "command";
    public const string OpenAi = "openai";

    public static readonly string[] All = [Template, External, Command, OpenAi];
}

/// <summary>
/// A worker's settings as stored (JSON in `workers.config`). Secrets are never here: <see cref="SecretEnv"/> and
/// <see cref="ApiKeyEnv"/> name environment variables of the Baton process, read when an execution starts.
/// </summary>
public sealed record WorkerConfig
{
    /// <summary>command: the program and its arguments, with {{placeholders}}; never passed through a shell.</summary>
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>command: literal, non-secret environment variables for the program.</summary>
    public IReadOnlyDictionary<string, string>? Env { get; init; }

    /// <summary>command: program variable → name of the Baton variable that holds the secret.</summary>
    public IReadOnlyDictionary<string, string>? SecretEnv { get; init; }

    /// <summary>
    /// command: program variable → name of a Baton variable passed when it is set (not a secret: a model server's
    /// address), so one worker file serves both the real API and a local server.
    /// </summary>
    public IReadOnlyDictionary<string, string>? PassEnv { get; init; }

    /// <summary>command: Baton writes CODEX_HOME/config.toml from these for each execution.</summary>
    public Baton.Client.CodexSettings? Codex { get; init; }

    /// <summary>command: false runs the program without a network (its own empty network namespace); default true.</summary>
    public bool? Network { get; init; }

    /// <summary>command: how to read usage from stdout: auto (default), claude, codex, generic or none.</summary>
    public string? Usage { get; init; }

    /// <summary>openai: the chat-completions base URL (https://api.openai.com/v1, http://localhost:11434/v1, ...).</summary>
    public string? BaseUrl { get; init; }

    public string? Model { get; init; }

    /// <summary>openai: name of the Baton variable that holds the API key (none for local servers).</summary>
    public string? ApiKeyEnv { get; init; }

    /// <summary>openai, and command with usage: codex: US dollars per million input tokens (none: the cost is unknown).</summary>
    public decimal? InputPricePerMtok { get; init; }

    /// <summary>openai, and command with usage: codex: US dollars per million output tokens.</summary>
    public decimal? OutputPricePerMtok { get; init; }

    /// <summary>command with usage: codex: US dollars per million cached input tokens; the input price when not given.</summary>
    public decimal? CachedInputPricePerMtok { get; init; }

    public int? MaxTokens { get; init; }

    public string? SystemPrompt { get; init; }

    /// <summary>Per-execution timeout; a phase's own timeout wins when shorter.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>A worker row: name, kind, settings and how many executions it may run at once (0 = no limit).</summary>
public sealed record WorkerDefinition(string Id, string Name, string Kind, WorkerConfig Config, int Concurrency);
