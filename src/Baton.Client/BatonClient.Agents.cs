namespace Baton.Client;

// Workers, repositories, work items and the agent runtime.
public sealed partial class BatonClient
{
    public Task<WorkerInfo> CreateWorkerAsync(CreateWorkerRequest request, CancellationToken ct = default) => CreateAsync<WorkerInfo>("api/workers", request, ct);

    public Task<WorkerList> ListWorkersAsync(CancellationToken ct = default) => GetAsync<WorkerList>("api/workers", ct);

    public Task<WorkerInfo> GetWorkerAsync(string idOrName, CancellationToken ct = default) => GetAsync<WorkerInfo>($"api/workers/{Escape(idOrName)}", ct);

    public Task DeleteWorkerAsync(string idOrName, CancellationToken ct = default) => DeleteResourceAsync($"api/workers/{Escape(idOrName)}", ct);

    public Task<RepositoryInfo> CreateRepositoryAsync(CreateRepositoryRequest request, CancellationToken ct = default) => CreateAsync<RepositoryInfo>("api/repositories", request, ct);

    public Task<RepositoryList> ListRepositoriesAsync(CancellationToken ct = default) => GetAsync<RepositoryList>("api/repositories", ct);

    public Task DeleteRepositoryAsync(string id, CancellationToken ct = default) => DeleteResourceAsync($"api/repositories/{Escape(id)}", ct);

    public Task<WorkItemInfo> CreateWorkItemAsync(CreateWorkItemRequest request, CancellationToken ct = default) => CreateAsync<WorkItemInfo>("api/work-items", request, ct);

    public Task<WorkItemList> ListWorkItemsAsync(CancellationToken ct = default) => GetAsync<WorkItemList>("api/work-items", ct);

    public Task DeleteWorkItemAsync(string id, CancellationToken ct = default) => DeleteResourceAsync($"api/work-items/{Escape(id)}", ct);

    public Task<ExecuteResponse> ExecuteAsync(ExecuteRequest request, CancellationToken ct = default) => CreateAsync<ExecuteResponse>("api/agent-runtime/execute", request, ct);

    public Task<ExecutionInfo> GetExecutionAsync(string id, CancellationToken ct = default) => GetAsync<ExecutionInfo>($"api/agent-runtime/executions/{Escape(id)}", ct);

    /// <summary>
    /// A standalone execution's events as they happen: `execution.created`, `execution.started`, `log` lines, then
    /// `execution.succeeded`, `execution.failed` or `execution.cancelled` (each with data {status, error_message}), from
    /// its creation or after <paramref name="lastEventId"/>. Ends once the execution has ended and every event is sent.
    /// </summary>
    public IAsyncEnumerable<RunEventInfo> StreamExecutionEventsAsync(string id, long? lastEventId = null, CancellationToken ct = default) =>
        StreamAsync($"api/agent-runtime/executions/{Escape(id)}/events", lastEventId, ct);

    public Task<ExecutionInfo> CancelExecutionAsync(string id, CancellationToken ct = default) => CreateAsync<ExecutionInfo>($"api/agent-runtime/executions/{Escape(id)}/cancel", null, ct);

    public Task<WorkspaceList> ListWorkspacesAsync(CancellationToken ct = default) => GetAsync<WorkspaceList>("api/agent-runtime/workspaces", ct);

    public async Task<WorkspaceInfo> DeleteWorkspaceAsync(string id, CancellationToken ct = default)
    {
        using var response = await Http.DeleteAsync($"api/agent-runtime/workspaces/{Escape(id)}", ct);
        await EnsureSuccessAsync(response, ct);
        return (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<WorkspaceInfo>(response.Content, Json, ct))!;
    }

    // Creating and cancelling are not retried: they must not happen twice.
    private Task<T> CreateAsync<T>(string path, object? body, CancellationToken ct) => SendAsync<T>(() => Post(path, body), idempotent: false, ct);

    private async Task DeleteResourceAsync(string path, CancellationToken ct)
    {
        using var response = await Http.DeleteAsync(path, ct);
        await EnsureSuccessAsync(response, ct);
    }
}
