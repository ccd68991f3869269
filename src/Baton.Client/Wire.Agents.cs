namespace Baton.Client;

// Workers, repositories, work items and the agent runtime (standalone executions and workspaces).

/// <summary>
/// A worker: kind `command` (argv, env, secret_env, usage), `openai` (base_url, model, api_key_env, prices), or
/// `template`/`external`. Secrets are never sent: `secret_env` and `api_key_env` name environment variables of
/// the Baton server process.
/// </summary>
public sealed record CreateWorkerRequest(
    string? Name,
    string? Kind,
    IReadOnlyList<string>? Argv = null,
    IReadOnlyDictionary<string, string>? Env = null,
    IReadOnlyDictionary<string, string>? SecretEnv = null,
    string? Usage = null,
    string? BaseUrl = null,
    string? Model = null,
    string? ApiKeyEnv = null,
    decimal? InputPricePerMtok = null,
    decimal? OutputPricePerMtok = null,
    int? MaxTokens = null,
    string? SystemPrompt = null,
    string? Timeout = null,
    int? Concurrency = null,
    bool? Network = null,
    IReadOnlyDictionary<string, string>? PassEnv = null,
    decimal? CachedInputPricePerMtok = null,
    CodexSettings? Codex = null);

/// <summary>
/// command: Baton writes CODEX_HOME/config.toml for each execution from these (Codex reads no other settings then).
/// <see cref="BaseUrlEnv"/> names a variable of the Baton server whose value, when set, replaces <see cref="BaseUrl"/>.
/// </summary>
public sealed record CodexSettings(
    string? Model = null,
    string? BaseUrl = null,
    string? BaseUrlEnv = null,
    string? ApiKeyEnv = null,
    string? SandboxMode = null,
    string? ReasoningEffort = null);

public sealed record WorkerInfo(
    string WorkerId,
    string Name,
    string Kind,
    IReadOnlyList<string>? Argv,
    IReadOnlyDictionary<string, string>? Env,
    IReadOnlyDictionary<string, string>? SecretEnv,
    string? Usage,
    string? BaseUrl,
    string? Model,
    string? ApiKeyEnv,
    decimal? InputPricePerMtok,
    decimal? OutputPricePerMtok,
    int? MaxTokens,
    string? SystemPrompt,
    string? Timeout,
    int Concurrency,
    DateTimeOffset CreatedAt,
    bool? Network = null,
    IReadOnlyDictionary<string, string>? PassEnv = null,
    decimal? CachedInputPricePerMtok = null,
    CodexSettings? Codex = null);

public sealed record WorkerList(IReadOnlyList<WorkerInfo> Workers);

/// <summary>
/// A local path (admins only, inside the server's BATON_REPO_ROOTS) or an https, http, ssh or git URL without
/// credentials. <paramref name="CredentialEnv"/> (admins only) names the server environment variable holding the
/// URL's `user:token` (or a token alone).
/// </summary>
public sealed record CreateRepositoryRequest(string? Name, string? Url, string? DefaultBranch = null, string? CredentialEnv = null);

/// <summary>A repository; <paramref name="CredentialEnv"/> is the name of the variable holding its credential, never the value.</summary>
public sealed record RepositoryInfo(string RepositoryId, string Name, string Url, string DefaultBranch, DateTimeOffset CreatedAt, string? CredentialEnv = null);

public sealed record RepositoryList(IReadOnlyList<RepositoryInfo> Repositories);

public sealed record CreateWorkItemRequest(string? Title, string? Description = null, string? RepositoryId = null);

public sealed record WorkItemInfo(string WorkItemId, string Title, string? Description, string? RepositoryId, DateTimeOffset CreatedAt);

public sealed record WorkItemList(IReadOnlyList<WorkItemInfo> WorkItems);

public sealed record ExecuteRequest(string? WorkerId, string? WorkItemId, string? Prompt);

public sealed record ExecuteResponse(string ExecutionId);

/// <summary>How many tests the check reported: passed and failed add up to the total.</summary>
public sealed record TestCounts(int Total, int Passed, int Failed);

/// <summary>
/// What an execution did, in seed 003's shapes (docs/agents.md maps its camelCase names to these).
/// <paramref name="FilesChanged"/>: the paths its commit changed, as they are named (the first 10,000).
/// <paramref name="TestsRun"/>: whether a check ran; <paramref name="TestsPassed"/>: whether it passed (exit code 0 and
/// no test reported failing); <paramref name="Tests"/>: the counts, when the check's output reported them.
/// </summary>
public sealed record ExecutionOutput(
    string? Summary,
    IReadOnlyList<string> FilesChanged,
    bool TestsRun,
    bool TestsPassed,
    TestCounts? Tests,
    IReadOnlyList<string> Logs,
    string? Diff);

public sealed record ExecutionInfo(
    string Id,
    string WorkerId,
    string? WorkItemId,
    string? TemplateId,
    string Status,
    string? ErrorMessage,
    ExecutionOutput Output,
    long? DurationMs,
    long TokensUsed,
    // null: unknown (its tokens have no price, ADR 28), never shown as $0.
    decimal? CostUsd,
    int ToolCallsCount,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt);

public sealed record WorkspaceInfo(string Id, string RepositoryId, string OwnerId, string Path, string Branch, string Status, DateTimeOffset CreatedAt);

public sealed record WorkspaceList(IReadOnlyList<WorkspaceInfo> Workspaces);
