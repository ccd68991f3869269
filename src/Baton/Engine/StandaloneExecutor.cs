using System.Data;
using Baton.Agents;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;
using Dapper;

namespace Baton.Engine;

/// <summary>
/// Runs one `run_execution` job: a standalone execution (agent runtime) of a worker on a work item, in a workspace
/// of the work item's repository on branch `baton/&lt;execution id&gt;`. Fenced by the job's lease like phases.
/// </summary>
public sealed class StandaloneExecutor(
    Database db,
    JobQueue queue,
    RunningExecutions running,
    AgentWork work,
    GitWorkspaces workspaces,
    EngineSignals signals,
    TimeProvider time,
    ILogger<StandaloneExecutor> logger)
{
    private sealed record Started(string ExecutionId, string Prompt, WorkerDefinition Worker, string? RepositoryId);

    public async Task ExecuteAsync(JobRow job, CancellationToken stopping)
    {
        var executionId = job.ExecutionId!;
        using var handle = running.Track(executionId);
        var (started, orphan) = await db.WriteAsync((c, tx) => StartAsync(c, tx, job), stopping);
        if (orphan is { } pid)
        {
            // Only now that the execution is recorded as lost: a start that rolled back finds it running again.
            ProcessRunner.KillOrphan(pid, executionId);
        }
        signals.Events.Fire();
        if (started is null || handle.Cancel.IsCancellationRequested)
        {
            return;
        }

        var clock = time.GetTimestamp();
        await using var lease = LeaseKeeper.Start(queue, job, time, logger);
        string? error = null;
        AgentOutcome? outcome = null;
        PhaseCommit? commit = null;
        var usage = AgentUsage.None;
        using var timeout = new CancellationTokenSource(started.Worker.Config.Timeout ?? TimeSpan.FromMinutes(30), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token, handle.Cancel.Token, lease.Lost);
        await using (var log = work.Log(executionId, null, null, job))
        {
            try
            {
                var (workspace, directory, git) = await work.PrepareAsync(executionId, started.RepositoryId, linked.Token);
                var request = new AgentRequest(executionId, null, 1, started.Prompt, directory, work.ArtifactsDirectory(executionId), [], log.WriteAsync)
                {
                    OnProcessStarted = pid => work.RecordPidAsync(executionId, pid),
                    Git = git,
                };
                outcome = await work.AgentFor(started.Worker).RunAsync(request, linked.Token);
                usage = outcome.Usage;
                var title = started.Prompt.Split('\n', 2)[0].Trim();
                title = title.Length > 72 ? title[..72] + "…" : title;
                AgentWork.RestoreGitLink(new Workplace(workspace, directory, git));
                commit = workspace is null ? null : await workspaces.CommitAsync(workspace, $"baton: {title}\n\nExecution {executionId}", linked.Token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested || handle.Cancel.IsCancellationRequested || lease.IsLost)
            {
                // Node stopping: claimed again after restart, and recorded as lost then. Cancelled: the cancel
                // transaction recorded it. Lease lost: the job is another worker's now, so this one writes nothing.
                return;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                error = "timed out";
            }
            catch (AgentFailedException ex)
            {
                error = ex.Message;
                usage = ex.Usage;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error = ex.Message;
            }
            if (error is not null)
            {
                await log.WriteAsync("error", error);
            }
        }

        var durationMs = (long)time.GetElapsedTime(clock).TotalMilliseconds;
        await lease.StopAsync();
        await db.WriteAsync(async (c, tx) =>
        {
            // The fence first, as for phases: a worker that lost its lease ends nothing and writes nothing.
            if (!await JobQueue.EndAsync(c, tx, job))
            {
                return;
            }
            await c.ExecuteAsync(
                """
                UPDATE executions SET status = @status, error_message = @error, completed_at = @now, duration_ms = @durationMs,
                    tokens_in = @TokensIn, tokens_out = @TokensOut, cost_usd = @cost, tool_calls = @ToolCalls,
                    summary = @summary, files_changed = @files, diff = @diff
                WHERE id = @executionId AND status = 'running'
                """,
                new
                {
                    status = error is null ? "success" : "error",
                    error,
                    now = time.GetUtcNow().ToMs(),
                    durationMs,
                    usage.TokensIn,
                    usage.TokensOut,
                    cost = (double)usage.CostUsd,
                    usage.ToolCalls,
                    summary = outcome?.Summary,
                    files = commit?.FilesChanged ?? 0,
                    diff = commit?.Diff,
                    executionId,
                }, tx);
        }, CancellationToken.None);
        signals.Events.Fire();
        signals.Jobs.Wake();
    }

    /// <returns>The execution to run, or null; and the agent of a lost one still running, to stop after commit.</returns>
    private async Task<(Started? Started, int? Orphan)> StartAsync(IDbConnection c, IDbTransaction tx, JobRow job)
    {
        if (!await JobQueue.HoldsLeaseAsync(c, tx, job))
        {
            return (null, null);
        }
        var execution = await c.QuerySingleOrDefaultAsync<(string Status, string Worker, string? WorkItemId, string? Prompt, int? Pid)>(
            "SELECT status, worker, work_item_id, prompt, pid FROM executions WHERE id = @ExecutionId", job, tx);
        var now = time.GetUtcNow().ToMs();
        if (execution.Status == "running")
        {
            // Claimed again after a crash: a standalone execution is one attempt, so it ends as lost.
            var orphan = execution.Pid is { } pid && ProcessRunner.IsOrphanOf(pid, job.ExecutionId!) ? execution.Pid : null;
            await c.ExecuteAsync("UPDATE executions SET status = 'error', error_message = @error, completed_at = @now WHERE id = @ExecutionId",
                new { job.ExecutionId, now, error = "worker lost" + (orphan is not null ? " (its agent process was stopped)" : "") }, tx);
            await JobQueue.DeleteAsync(c, tx, job);
            return (null, orphan);
        }
        if (execution.Status != "pending")
        {
            await JobQueue.DeleteAsync(c, tx, job);
            return (null, null);
        }
        var worker = await WorkerStore.FindAsync(c, tx, execution.Worker);
        var repositoryId = execution.WorkItemId is null ? null
            : await WorkItemStore.RepositoryIdOfAsync(c, tx, execution.WorkItemId);
        if (worker is null)
        {
            await JobQueue.DeleteAsync(c, tx, job);
            await c.ExecuteAsync("UPDATE executions SET status = 'error', error_message = 'the worker was deleted', completed_at = @now WHERE id = @ExecutionId",
                new { job.ExecutionId, now }, tx);
            return (null, null);
        }
        await c.ExecuteAsync("UPDATE executions SET status = 'running', started_at = @now WHERE id = @ExecutionId", new { job.ExecutionId, now }, tx);
        await RunLogs.AppendAsync(c, tx, job.ExecutionId!, null, null, "info", [$"running worker {worker.Name} ({worker.Kind})"], time.GetUtcNow());
        return (new Started(job.ExecutionId!, execution.Prompt ?? "", worker.ToDefinition(), repositoryId), null);
    }
}
