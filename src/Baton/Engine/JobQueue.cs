using System.Data;
using Baton.Runs;
using Baton.Storage;
using Dapper;

namespace Baton.Engine;

public sealed class JobRow
{
    public long Id { get; set; }
    public string Kind { get; set; } = "";
    public string RunId { get; set; } = "";
    public string? Phase { get; set; }
    public int? Iteration { get; set; }
    public int Attempts { get; set; }
    public string LeaseToken { get; set; } = "";

    /// <summary>When the lease runs out unless renewed (Unix ms).</summary>
    public long LeaseExpiresAt { get; set; }
    public string? ExecutionId { get; set; }
}

/// <summary>
/// A claimed job, and for a phase on PostgreSQL its run's row and its phase run's, read and locked by the claim (else
/// null: its start reads them).
/// </summary>
public sealed record ClaimedJob(JobRow Job, RunRow? Run, LockedPhaseRun? PhaseRun);

/// <summary>A finish found its job's lease gone (another worker has the job, or it was cancelled): it writes nothing.</summary>
public sealed class LeaseLostException(JobRow job) : Exception($"lost the lease on job {job.Id} of {job.RunId}");

/// <summary>
/// Jobs are rows. A worker claims a due job with a lease; the lease token is the fence that every later
/// write checks, so a worker that lost its lease can neither complete nor overwrite anything.
/// </summary>
public sealed class JobQueue(Database db, Ops.BatonMetrics metrics, TimeProvider time, NodeIdentity node)
{
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A worker at its concurrency limit leaves its jobs waiting (their executions stay pending). What counts is the
    /// worker's jobs under a live lease: a claim (or a job inserted leased) takes a slot in the transaction that takes
    /// it, which also counts a job claimed but not yet running an agent.
    /// </summary>
    private static string HasRoom(string worker) => $"""
        NOT EXISTS (SELECT 1 FROM workers w WHERE w.name = {worker} AND w.concurrency > 0
                    AND (SELECT COUNT(*) FROM jobs h WHERE h.worker = w.name AND h.lease_expires_at > @now) >= w.concurrency)
        """;

    private static readonly string WorkerHasRoom = "AND " + HasRoom("j.worker");

    /// <summary>The owner of this node's leases: the same after a restart, so the node knows its own (<see cref="NodeIdentity"/>).</summary>
    public string NodeId => node.Id;

    /// <summary>
    /// Claims the next due job inside the caller's transaction, so that the claim and whatever starts the job (an
    /// execution's start) commit together: one transaction, and no claimed-but-not-started state for a crash to leave.
    /// With several writers (PostgreSQL) the claim takes steps instead (<see cref="ClaimOfManyWritersAsync"/>).
    /// </summary>
    public async Task<ClaimedJob?> ClaimAsync(IDbConnection c, IDbTransaction tx)
    {
        var claiming = time.GetTimestamp();
        var claim = NewClaim();
        var claimed = SqlDialect.Of(c).SingleWriter
            ? await c.QuerySingleOrDefaultAsync<JobRow>(
                $$"""
                UPDATE jobs SET {{Lease}}
                WHERE (lease_expires_at IS NULL OR lease_expires_at <= @now)
                  AND id = (SELECT j.id FROM jobs j
                            WHERE j.run_at <= @now AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= @now)
                              {{WorkerHasRoom}}
                            ORDER BY j.run_at, j.id LIMIT 1)
                RETURNING {{Returned}}
                """,
                claim, tx) is { } job ? new ClaimedJob(job, null, null) : null
            : await ClaimOfManyWritersAsync(c, tx, claim);
        metrics.JobClaimed(claimed is not null, time.GetElapsedTime(claiming));
        return claimed;
    }

    /// <summary>
    /// Claims one job by its id, if no live lease holds it: a start whose writes the server refused at the COMMIT
    /// (taking its claim with it) claims its job again, alone, so that the failure is charged to an attempt.
    /// </summary>
    public Task<JobRow?> ClaimByIdAsync(IDbConnection c, IDbTransaction tx, long id) =>
        c.QuerySingleOrDefaultAsync<JobRow?>(
            $"UPDATE jobs SET {Lease} WHERE id = @id AND (lease_expires_at IS NULL OR lease_expires_at <= @now) RETURNING {Returned}",
            With(NewClaim(), "id", id), tx);

    private object NewClaim()
    {
        var now = time.GetUtcNow().ToMs();
        return new { owner = NodeId, token = Guid.NewGuid().ToString("N"), expires = now + (long)LeaseDuration.TotalMilliseconds, now };
    }

    /// <summary>What a claim sets: this node's lease, a new token, one more attempt.</summary>
    private const string Lease = "lease_owner = @owner, lease_token = @token, lease_expires_at = @expires, attempts = attempts + 1";

    private const string Returned = "id, kind, run_id, phase, iteration, attempts, lease_token, lease_expires_at, execution_id";

    /// <summary>
    /// The claim with several writers: lock a due job no one else is locking (SKIP LOCKED) and that is not pinned to
    /// another node (its workspace is on that node's disk, ADR 26) and lease it, or, if its worker has a limit, lock the
    /// worker's row, count again, and then lease it. Under read committed two claimers would each count
    /// the other's claim out; the worker's lock makes the second wait until the first committed, and its count (a new
    /// statement) sees it.
    /// </summary>
    private static async Task<ClaimedJob?> ClaimOfManyWritersAsync(IDbConnection c, IDbTransaction tx, object claim)
    {
        // One round trip when the job's worker has no limit (the built-in ones): the pick and the lease in one
        // statement (ADR 42), and for a phase, its run's row and its phase run's locked, which its start reads and
        // writes next (the locks are taken after the job's, the order every writer takes them in): the start's writes
        // then all go with the COMMIT (ADR 55). The pick comes back either way, still locked, for a worker whose limit
        // is counted below.
        var parameters = new DynamicParameters(claim);
        parameters.Add("template", Profiles.PhaseDefinition.TemplateWorker);
        parameters.Add("external", Profiles.PhaseDefinition.ExternalWorker);
        parameters.Add("phase", JobRequest.ExecutePhase);
        var (picked, claimed, run, phaseRun) = (await c.QueryAsync<PickedJob, JobRow?, RunRow?, LockedPhaseRun?, (PickedJob? Picked, JobRow? Claimed, RunRow? Run, LockedPhaseRun? PhaseRun)>(
            $"""
            WITH picked AS (
                SELECT j.id, j.worker FROM jobs j
                WHERE j.run_at <= @now AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= @now)
                  AND (j.pinned_node IS NULL OR j.pinned_node = @owner) {WorkerHasRoom}
                ORDER BY j.run_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED),
            claimed AS (
                UPDATE jobs SET {Lease}
                FROM picked WHERE jobs.id = picked.id AND (picked.worker IS NULL OR picked.worker IN (@template, @external))
                RETURNING {string.Join(", ", Returned.Split(", ").Select(column => "jobs." + column))}),
            run AS ({RunStore.LockedRowOf("(SELECT run_id FROM claimed WHERE kind = @phase)")}),
            phase_run AS ({RunStore.LockedPhaseRunOf("(SELECT id FROM run)", "(SELECT phase FROM claimed)", "(SELECT iteration FROM claimed)")})
            SELECT picked.id AS picked_id, picked.worker AS picked_worker, claimed.*, run.*, phase_run.*
            FROM picked LEFT JOIN claimed ON true LEFT JOIN run ON true LEFT JOIN phase_run ON true
            """,
            (p, j, r, pr) => (p, j, r, pr), parameters, tx, splitOn: "id,id,phase_run_attempts")).SingleOrDefault();
        if (picked is null || claimed is not null)
        {
            return claimed is null ? null : new ClaimedJob(claimed, run, phaseRun);
        }
        if (MayHaveLimit(picked.PickedWorker) && !await LockWorkerWithRoomAsync(c, tx, picked.PickedWorker, claim))
        {
            return null;
        }
        return new ClaimedJob(await c.QuerySingleAsync<JobRow>($"UPDATE jobs SET {Lease} WHERE id = @id RETURNING {Returned}", With(claim, "id", picked.PickedId), tx), null, null);
    }

    /// <summary>The job a claim picked and locked: its id and worker.</summary>
    private sealed class PickedJob
    {
        public long PickedId { get; set; }
        public string? PickedWorker { get; set; }
    }

    /// <summary>Locks a worker's row (when it has a limit) until the commit, then says whether it has room for one more job.</summary>
    private static async Task<bool> LockWorkerWithRoomAsync(IDbConnection c, IDbTransaction tx, string worker, object claim)
    {
        await LockWorkerAsync(c, tx, worker);
        return await c.ExecuteScalarAsync<bool>($"SELECT {HasRoom("@worker")}", With(claim, "worker", worker), tx);
    }

    /// <summary>
    /// The built-in workers (<c>template</c>, <c>external</c>) have no row and so no limit: nothing to lock or count,
    /// and two round trips fewer in each claim and hand-off of theirs.
    /// </summary>
    public static bool MayHaveLimit([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? worker) =>
        worker is not (null or Profiles.PhaseDefinition.TemplateWorker or Profiles.PhaseDefinition.ExternalWorker);

    /// <summary>
    /// With several writers, a worker with a limit is counted under its row's lock: a second claim or hand-off of it
    /// waits until the first commits, and its count (a new statement) sees it.
    /// </summary>
    private static Task LockWorkerAsync(IDbConnection c, IDbTransaction tx, string worker) =>
        c.DeferSelectAsync("SELECT 1 FROM workers WHERE name = @worker AND concurrency > 0 FOR UPDATE", new { worker }, tx);

    private static DynamicParameters With(object parameters, string name, object value)
    {
        var all = new DynamicParameters(parameters);
        all.Add(name, value);
        return all;
    }

    /// <summary>
    /// Inside a transition that the caller goes straight on from: the run's next phase job, inserted already leased to
    /// the caller (its first claim), unless its worker is at its limit (then null, and it is queued as usual).
    /// </summary>
    public async Task<JobRow?> EnqueueLeasedAsync(IDbConnection c, IDbTransaction tx, string runId, JobRequest job, long now)
    {
        var leased = new { job.Kind, runId, job.Phase, job.Iteration, job.Worker, now, owner = NodeId, token = Guid.NewGuid().ToString("N"), expires = now + (long)LeaseDuration.TotalMilliseconds };
        if (!SqlDialect.Of(c).SingleWriter && MayHaveLimit(job.Worker))
        {
            await LockWorkerAsync(c, tx, job.Worker);
        }
        return await c.QuerySingleOrDefaultAsync<JobRow>(
            $"""
            INSERT INTO jobs(kind, run_id, phase, iteration, run_at, created_at, worker, attempts, lease_owner, lease_token, lease_expires_at, pinned_node)
            SELECT @Kind, @runId, @Phase, @Iteration, @now, @now, @Worker, 1, @owner, @token, @expires, {PinOf("@runId")}
            WHERE {HasRoom("@Worker")}
            RETURNING {Returned}
            """,
            leased, tx);
    }

    /// <summary>
    /// The node a new job of <paramref name="owner"/> (a run or standalone execution) is pinned to: its workspace's, when
    /// that is on one node's disk (a local-path repository); else none, and any node may take it.
    /// </summary>
    private static string PinOf(string owner) =>
        $"(SELECT w.pinned_node FROM workspaces w WHERE w.owner_id = {owner} AND w.status = 'active')";

    /// <summary>
    /// Pins the owner's jobs to the node that has just made its workspace on its own disk, in the transaction that
    /// records the workspace: a job already queued (or leased, should its lease run out) stays on that node too.
    /// </summary>
    public static Task PinOfOwnerAsync(IDbConnection c, IDbTransaction tx, string ownerId, string? node) =>
        c.DeferAsync("UPDATE jobs SET pinned_node = @node WHERE run_id = @ownerId", new { ownerId, node }, tx);

    /// <summary>
    /// How many jobs this node could claim now (due, their worker has room, not pinned to another node), counted up to
    /// <paramref name="atMost"/>, and when the next job comes due or a lease runs out (null: nothing is waiting).
    /// </summary>
    public async Task<(int Claimable, DateTimeOffset? NextAt)> DueAsync(int atMost, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToMs();
        var (claimable, nextRun, nextLeaseEnd) = await db.ReadAsync(c => c.QuerySingleAsync<(long Claimable, long? NextRun, long? NextLeaseEnd)>(
            $"""
            SELECT (SELECT COUNT(*) FROM (
                        SELECT 1 FROM jobs j
                        WHERE j.run_at <= @now AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= @now)
                          {(SqlDialect.Of(c).SingleWriter ? "" : "AND (j.pinned_node IS NULL OR j.pinned_node = @owner)")} {WorkerHasRoom}
                        LIMIT @atMost) d),
                   (SELECT MIN(run_at) FROM jobs WHERE run_at > @now AND lease_expires_at IS NULL),
                   (SELECT MIN(lease_expires_at) FROM jobs WHERE lease_expires_at > @now)
            """, new { now, atMost, owner = NodeId }), ct);
        long? next = (nextRun, nextLeaseEnd) switch
        {
            (null, null) => null,
            ({ } run, null) => run,
            (null, { } lease) => lease,
            ({ } run, { } lease) => Math.Min(run, lease),
        };
        return ((int)claimable, next is { } at ? Times.FromMs(at) : null);
    }

    /// <summary>Jobs due and not leased, by kind: the `/metrics` queue depth (a queue is short, not history).</summary>
    public static Task<IEnumerable<(string Kind, long Count)>> DueByKindAsync(IDbConnection c, long nowMs) =>
        c.QueryAsync<(string Kind, long Count)>(
            "SELECT kind, COUNT(*) FROM jobs WHERE run_at <= @nowMs AND (lease_expires_at IS NULL OR lease_expires_at <= @nowMs) GROUP BY kind",
            new { nowMs });

    /// <summary>Extends the job's lease; returns when it now runs out, or null when the lease is no longer this worker's.</summary>
    public async Task<DateTimeOffset?> RenewAsync(JobRow job, CancellationToken ct)
    {
        var expires = time.GetUtcNow() + LeaseDuration;
        var renewed = await db.WriteAsync((c, tx) => c.ExecuteAsync(
            "UPDATE jobs SET lease_expires_at = @expires WHERE id = @Id AND lease_token = @LeaseToken",
            new { job.Id, job.LeaseToken, expires = expires.ToMs() }, tx), ct);
        return renewed == 1 ? expires : null;
    }

    /// <summary>
    /// At start-up, the leases this node's id holds were taken by its earlier process, which died: they are freed now
    /// instead of when they run out. Another node's leases are left alone, even on an SQLite file (which one process
    /// owns): that node may be alive, on PostgreSQL, and a dead node's leases run out by themselves. Owners with a ':'
    /// were named before nodes had ids (machine:pid:random), by a process that is gone; a node id never has one.
    /// </summary>
    public Task<int> ReleaseOwnLeasesAsync(CancellationToken ct) =>
        db.WriteAsync((c, tx) => c.ExecuteAsync(
            """
            UPDATE jobs SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE lease_token IS NOT NULL AND (lease_owner = @node OR lease_owner LIKE '%:%')
            """, new { node = NodeId }, tx), ct);

    /// <summary>
    /// Whether this worker still holds the job's lease, for a write that does not end the job (a log flush). With
    /// several writers the row is share-locked until the commit, so the lease cannot move to another node in between.
    /// </summary>
    public static async Task<bool> HoldsLeaseAsync(IDbConnection c, IDbTransaction tx, JobRow job) =>
        await c.ExecuteScalarAsync<long>(
            $"SELECT COUNT(*) FROM (SELECT id FROM jobs WHERE id = @Id AND lease_token = @LeaseToken{(SqlDialect.Of(c).SingleWriter ? "" : " FOR SHARE")}) held",
            job, tx) == 1;

    /// <summary>
    /// The fence, as the first write of a finish: ends the job (or, with <paramref name="retryAt"/>, moves it there and
    /// frees it) only while this worker holds its lease. False means the lease is gone and the caller writes nothing.
    /// </summary>
    public static async Task<bool> EndAsync(IDbConnection c, IDbTransaction tx, JobRow job, DateTimeOffset? retryAt = null) =>
        retryAt is { } at
            ? await c.ExecuteAsync(RetryLaterSql, new { job.Id, job.LeaseToken, runAt = at.ToMs() }, tx) == 1
            : await c.ExecuteAsync(FenceSql, job, tx) == 1;

    private const string RetryLaterSql =
        "UPDATE jobs SET run_at = @runAt, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = @Id AND lease_token = @LeaseToken";

    private const string FenceSql = "DELETE FROM jobs WHERE id = @Id AND lease_token = @LeaseToken";

    /// <summary>
    /// <see cref="EndAsync"/> as the first write of a finish that goes on only while the lease holds: a lost lease ends
    /// the write with <see cref="LeaseLostException"/> and nothing of it commits. On PostgreSQL the fence rides with
    /// the finish's next round trip, checked when that returns (ADR 53).
    /// </summary>
    public static Task FenceAsync(IDbConnection c, IDbTransaction tx, JobRow job, DateTimeOffset? retryAt)
    {
        Func<Exception> lost = () => new LeaseLostException(job);
        return retryAt is { } at
            ? c.DeferCheckedAsync(RetryLaterSql, new { job.Id, job.LeaseToken, runAt = at.ToMs() }, tx, expectedRows: 1, lost)
            : c.DeferCheckedAsync(FenceSql, job, tx, expectedRows: 1, lost);
    }

    /// <summary>A run's phase or gate job, as the decider asked for it.</summary>
    public static Task EnqueueAsync(IDbConnection c, IDbTransaction tx, string runId, JobRequest job, long now) =>
        c.DeferAsync(
            $"INSERT INTO jobs(kind, run_id, phase, iteration, run_at, created_at, worker, pinned_node) VALUES (@Kind, @runId, @Phase, @Iteration, @runAt, @now, @Worker, {PinOf("@runId")})",
            new { job.Kind, runId, job.Phase, job.Iteration, runAt = job.RunAt.ToMs(), now, job.Worker }, tx);

    /// <summary>A standalone execution's job, due now.</summary>
    public static Task EnqueueExecutionAsync(IDbConnection c, IDbTransaction tx, string executionId, string worker, long now) =>
        c.DeferAsync(
            $"INSERT INTO jobs(kind, run_id, execution_id, worker, run_at, created_at, pinned_node) VALUES (@kind, @executionId, @executionId, @worker, @now, @now, {PinOf("@executionId")})",
            new { kind = JobRequest.RunExecution, executionId, worker, now }, tx);

    /// <summary>A webhook delivery's job, due now; the delivery's id stands in the run's place (ADR 35).</summary>
    public static Task EnqueueDeliveryAsync(IDbConnection c, IDbTransaction tx, string deliveryId, long now) =>
        c.DeferAsync(
            "INSERT INTO jobs(kind, run_id, run_at, created_at) VALUES (@kind, @deliveryId, @now, @now)",
            new { kind = JobRequest.DeliverWebhook, deliveryId, now }, tx);

    /// <summary>Drops the jobs of a webhook's deliveries (the webhook is being deleted).</summary>
    public static Task DeleteOfWebhookAsync(IDbConnection c, IDbTransaction tx, string webhookId) =>
        c.DeferAsync(
            "DELETE FROM jobs WHERE kind = @kind AND run_id IN (SELECT d.id FROM webhook_deliveries d WHERE d.webhook_id = @webhookId)",
            new { kind = JobRequest.DeliverWebhook, webhookId }, tx);

    /// <summary>Drops a run's jobs (it ended, or was sent elsewhere): a worker holding one finds its fence gone.</summary>
    public static Task DeleteOfRunAsync(IDbConnection c, IDbTransaction tx, string runId) =>
        c.DeferAsync("DELETE FROM jobs WHERE run_id = @runId", new { runId }, tx);

    /// <summary>
    /// Locks the run's jobs before its row, where a decision outside the engine (approve, cancel) may delete them:
    /// the engine locks a job, then its run, and taking the two the other way round would deadlock with it. Nothing
    /// to lock with one writer.
    /// </summary>
    public static Task LockOfRunAsync(IDbConnection c, IDbTransaction tx, string runId) =>
        SqlDialect.Of(c).SingleWriter
            ? Task.CompletedTask
            : c.DeferSelectAsync("SELECT id FROM jobs WHERE run_id = @runId ORDER BY id FOR UPDATE", new { runId }, tx);

    /// <summary>Drops a standalone execution's job (it was cancelled).</summary>
    public static Task DeleteOfExecutionAsync(IDbConnection c, IDbTransaction tx, string executionId) =>
        c.DeferAsync("DELETE FROM jobs WHERE execution_id = @executionId", new { executionId }, tx);

    /// <summary>
    /// Drops a job this worker claimed and will not run (its run moved on, its execution ended): the fence's statement,
    /// but whether the lease was still held changes nothing here, so it rides with the next round trip.
    /// </summary>
    public static Task DeleteAsync(IDbConnection c, IDbTransaction tx, JobRow job) => c.DeferAsync(FenceSql, job, tx);
}
