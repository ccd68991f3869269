using System.Data;
using Baton.Agents;
using Baton.Runs;
using Baton.Storage;
using Baton.Workspaces;

namespace Baton.Engine;

/// <summary>
/// Runs one `run_execution` job: a standalone execution (agent runtime) of a worker on a work item, in a workspace
/// of the work item's repository on branch `baton/&lt;execution id&gt;`. Its lifecycle is a phase's
/// (<see cref="ExecutionLifecycle"/>): started in the claim's transaction, fenced by the job's lease, one attempt.
/// </summary>
public sealed class StandaloneExecutor(
    ExecutionLifecycle lifecycle,
    RunningExecutions running,
    AgentWork work,
    GitWorkspaces workspaces,
    EngineSignals signals,
    NodeIdentity node,
    TimeProvider time,
    Ops.BatonMetrics metrics)
{
    /// <summary>How long an agent of a worker that sets no timeout may run.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    /// <summary>What the started execution runs; null when there was nothing to run (ended, lost, its worker deleted).</summary>
    internal sealed record Work(string Prompt, WorkerDefinition Worker, string? RepositoryId);

    public sealed class StandaloneStart : ExecutionStart
    {
        internal StandaloneStart(JobRow job, RunningExecutions.Handle handle, IReadOnlyList<int> orphans, Work? work)
            : base(job, job.ExecutionId!, handle, orphans) => Work = work;

        internal Work? Work { get; }
    }

    /// <summary>Starts a claimed execution inside the claim's transaction.</summary>
    public async Task<StandaloneStart> StartAsync(IDbConnection c, IDbTransaction tx, JobRow job)
    {
        var id = job.ExecutionId!;
        var handle = running.Track(id);
        try
        {
            var execution = await ExecutionStore.FindAsync(c, tx, id);
            var now = time.GetUtcNow();
            if (execution is { Status: ExecutionStatus.Running })
            {
                // Claimed again after a crash: a standalone execution is one attempt, so it ends as lost.
                // Its agent is stopped only by the node that ran it: elsewhere its pid names nothing.
                int[] orphans = execution.Pid is { } pid && node.Ran(execution.NodeId) && ProcessRunner.IsOrphanOf(pid, id) ? [pid] : [];
                var lost = "worker lost" + (orphans.Length > 0 ? " (its agent process was stopped)" : "");
                await ExecutionStore.EndWithErrorAsync(c, tx, id, lost, now.ToMs());
                await ExecutionEvents.AppendAsync(c, tx, id, ExecutionStatus.Error, lost, now);
                await JobQueue.DeleteAsync(c, tx, job);
                return new StandaloneStart(job, handle, orphans, null);
            }
            var worker = execution is { Status: ExecutionStatus.Pending } ? await WorkerStore.FindAsync(c, tx, execution.Worker) : null;
            if (execution is not { Status: ExecutionStatus.Pending } || worker is null)
            {
                await JobQueue.DeleteAsync(c, tx, job);
                if (execution is { Status: ExecutionStatus.Pending })
                {
                    await ExecutionStore.EndWithErrorAsync(c, tx, id, "the worker was deleted", now.ToMs());
                    await ExecutionEvents.AppendAsync(c, tx, id, ExecutionStatus.Error, "the worker was deleted", now);
                }
                return new StandaloneStart(job, handle, [], null);
            }
            var repositoryId = execution.WorkItemId is null ? null : await WorkItemStore.RepositoryIdOfAsync(c, tx, execution.WorkItemId);
            await ExecutionStore.StartStandaloneAsync(c, tx, id, node.Id, now.ToMs());
            await ExecutionEvents.AppendAsync(c, tx, id, ExecutionStatus.Running, null, now);
            await EventLog.AppendLogsAsync(c, tx, id, null, null, "info", [$"running worker {worker.Name} ({worker.Kind})"], now);
            return new StandaloneStart(job, handle, [], new Work(execution.Prompt ?? "", worker.ToDefinition(), repositoryId));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public async Task ExecuteAsync(StandaloneStart start, CancellationToken stopping)
    {
        using var started = start;
        var (job, handle) = (start.Job, start.Handle);
        if (start.Work is not { } what || handle.Cancel.IsCancellationRequested)
        {
            return;
        }
        var id = job.ExecutionId!;
        await using var log = work.Log(id, null, null, job);
        var attempt = await lifecycle.RunAsync(job, handle, what.Worker.Config.Timeout ?? DefaultTimeout, ct => RunAsync(id, what, log, ct), stopping);
        if (attempt is null)
        {
            return;
        }
        if (attempt.Result.Error is { } error)
        {
            await log.WriteAsync("error", error);
        }
        metrics.ExecutionFinished(what.Worker.Name, what.Worker.Config.Model, attempt.Result.Error is null, TimeSpan.FromMilliseconds(attempt.DurationMs), attempt.Result.Usage);
        await lifecycle.FinishAsync(job, id, log, attempt, retryAt: null, (_, _, events) =>
        {
            var result = attempt.Result;
            events.Add(id, ExecutionEvents.Of(result.Error is null ? ExecutionStatus.Success : ExecutionStatus.Error, result.Error), time.GetUtcNow());
            return Task.FromResult(true);
        });
        signals.EventsCommitted();
        // This worker's slot is free: a job held back by its concurrency limit may go now.
        signals.Jobs.Wake();
    }

    private async Task<AttemptResult> RunAsync(string id, Work what, LogSink log, CancellationToken ct)
    {
        var place = await work.PrepareAsync(id, what.RepositoryId, ct);
        var request = new AgentRequest(id, null, 1, what.Prompt, place.Directory, work.ArtifactsDirectory(id), [], log.WriteAsync)
        {
            OnProcessStarted = pid => work.RecordPidAsync(id, pid),
            Git = place.Git,
        };
        var outcome = await work.AgentFor(what.Worker).RunAsync(request, ct);
        var title = what.Prompt.Split('\n', 2)[0].Trim();
        title = title.Length > 72 ? title[..72] + "…" : title;
        AgentWork.RestoreGitLink(place);
        var commit = place.Workspace is null ? null : await workspaces.CommitAsync(place.Workspace, $"baton: {title}\n\nExecution {id}", ct);
        return new AttemptResult(outcome, null, false, outcome.Usage, commit, null);
    }
}
