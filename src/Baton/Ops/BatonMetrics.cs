using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Baton.Agents;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Ops;

/// <summary>
/// Baton's own instruments (ADR 33), exported with ASP.NET Core's and the runtime's by OpenTelemetry: on /metrics for
/// Prometheus, and by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Counters and histograms are this process's, counted
/// where the change happens, after its commit, from data already in hand (no database read on the hot path); a restart
/// starts them at zero, which Prometheus reads as the counter reset it is. Gauges are read from the database at scrape
/// time, from small tables (run_counts, jobs), at most once a second; the database's size at most once a minute.
/// </summary>
public sealed class BatonMetrics
{
    public const string MeterName = "Baton";

    /// <summary>Seconds, from a millisecond to an hour: agents take minutes and gates wait for people.</summary>
    public static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

    /// <summary>Claims take a statement or two: finer buckets, to a second.</summary>
    public static readonly double[] ClaimBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private static readonly TimeSpan GaugeSnapshotAge = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan SizeSnapshotAge = TimeSpan.FromMinutes(1);

    private const int MaxPhaseStartRuns = 10_000;

    private readonly Meter _meter;
    private readonly Database _db;
    private readonly TimeProvider _time;
    private readonly Counter<long> _created;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _approvals;
    private readonly Counter<long> _rejections;
    private readonly Histogram<double> _gateWait;
    private readonly Histogram<double> _phaseDuration;
    private readonly Histogram<double> _executionDuration;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Histogram<double> _claimDuration;
    private readonly Counter<long> _webhookAttempts;
    private readonly long[] _claims = new long[2];

    /// <summary>What a transition will count once its transaction has committed (<see cref="Committed"/>).</summary>
    private readonly ConditionalWeakTable<RunDecision, PendingCount> _pending = [];

    private readonly PhaseStarts _phaseStarts = new(MaxPhaseStartRuns);

    private readonly Lock _snapshotLock = new();
    private GaugeSnapshot? _snapshot;
    private SizeRead? _size;

    public BatonMetrics(IMeterFactory meters, Database db, TimeProvider time)
    {
        _db = db;
        _time = time;
        _meter = meters.Create(MeterName);
        _created = _meter.CreateCounter<long>("baton.runs.created", "{run}", "Runs created, by profile.");
        _finished = _meter.CreateCounter<long>("baton.runs.finished", "{run}", "Runs that reached a final status (completed, failed, cancelled, expired), by profile and status.");
        _approvals = _meter.CreateCounter<long>("baton.approvals", "{approval}", "Gate and budget approvals, by profile and kind.");
        _rejections = _meter.CreateCounter<long>("baton.rejections", "{rejection}", "Gate rejections, by profile.");
        _gateWait = _meter.CreateHistogram("baton.gate.wait.duration", "s", "How long runs waited for a decision at a gate or budget stop, by profile, kind and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _phaseDuration = _meter.CreateHistogram("baton.phase.duration", "s", "Phase durations from the phase's start (its job queued) to its completion, failure or gate (gate waits excluded), by profile, phase and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _executionDuration = _meter.CreateHistogram("baton.execution.duration", "s", "Agent execution durations, by worker and status.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _tokens = _meter.CreateCounter<long>("baton.tokens", "{token}", "Model tokens used by agents, by worker, model and direction (input, output).");
        _cost = _meter.CreateCounter<double>("baton.cost.usd", "{USD}", "Agent cost in US dollars, by worker and model (known costs only).");
        _claimDuration = _meter.CreateHistogram("baton.job.claim.duration", "s", "How long a worker's job claim took, by whether it found a job.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ClaimBuckets });
        _webhookAttempts = _meter.CreateCounter<long>("baton.webhook.attempts", "{attempt}", "Webhook delivery attempts, by event and result (delivered, retrying, failed: given up).");
        _meter.CreateObservableGauge("baton.runs.active", ActiveRuns, "{run}", "Runs not finished yet, by status (pending, running, awaiting_approval, paused).");
        _meter.CreateObservableGauge("baton.queue.depth", QueueDepth, "{job}", "Jobs waiting: due and not leased, by kind.");
        _meter.CreateObservableGauge("baton.database.size", () => SizeMeasurement(r => r.Bytes), "By", "The database's size on disk (SQLite: its file without the WAL; PostgreSQL: pg_database_size), read at most once a minute.");
        _meter.CreateObservableCounter("baton.database.writes", () => db.Writes, "{write}", "Write transactions this node asked of the database, committed or failed (on SQLite several share a commit).");
        _meter.CreateObservableCounter("baton.database.commits", () => db.Commits, "{commit}", "Commits this node made: on SQLite each ends a batch of writes.");
        _meter.CreateObservableCounter("baton.database.writer.busy", WriterBusy, "s",
            "SQLite only: how long its one writer has spent running and committing batches. Its rate is the writer's utilization: near 1, writes queue behind each other (docs/OPERATIONS.md, sizing).");
        _meter.CreateObservableGauge("baton.database.run.size", () => SizeMeasurement(r => r.BytesPerRun), "By",
            "The database's size divided by the runs it holds (finished ones included; 0 with none): what a run costs to keep, read at most once a minute.");
    }

    private IEnumerable<Measurement<double>> WriterBusy() =>
        _db.WriterBusy is { } busy ? [new(busy.TotalSeconds)] : [];

    /// <summary>Claims this node made, by whether they found a job (also in <c>baton_job_claim_duration_seconds_count</c>).</summary>
    public long Claims(bool found) => Interlocked.Read(ref _claims[found ? 1 : 0]);

    public void JobClaimed(bool found, TimeSpan took)
    {
        Interlocked.Increment(ref _claims[found ? 1 : 0]);
        _claimDuration.Record(took.TotalSeconds, new KeyValuePair<string, object?>("result", found ? "job" : "empty"));
    }

    /// <summary>A webhook delivery attempt this node made, once recorded: <c>delivered</c>, <c>pending</c> (to be retried) or <c>failed</c>.</summary>
    public void WebhookAttempted(string eventType, string outcome) =>
        _webhookAttempts.Add(1, new("event", eventType), new("result", outcome == "pending" ? "retrying" : outcome));

    public void ExecutionFinished(string worker, string? model, bool succeeded, TimeSpan took, AgentUsage usage)
    {
        _executionDuration.Record(took.TotalSeconds, new("worker", worker), new("status", succeeded ? "success" : "error"));
        if (usage.TokensIn != 0)
        {
            _tokens.Add(usage.TokensIn, new("worker", worker), new("model", model ?? ""), new("direction", "input"));
        }
        if (usage.TokensOut != 0)
        {
            _tokens.Add(usage.TokensOut, new("worker", worker), new("model", model ?? ""), new("direction", "output"));
        }
        if (usage.CostUsd != 0)
        {
            _cost.Add((double)usage.CostUsd, new("worker", worker), new("model", model ?? ""));
        }
    }

    /// <summary>
    /// Inside a transition's transaction, once applied: what it will count, kept until <see cref="Committed"/> (a
    /// transaction rolled back never gets there, and its entry goes with its decision).
    /// </summary>
    public void Decided(Transition t, RunRow before, DateTimeOffset now)
    {
        if (t.Events.Count > 0)
        {
            _pending.AddOrUpdate(t, new PendingCount(before.Profile, before.Id, before.UpdatedAt, before.WaitReason, now.ToUnixTimeMilliseconds()));
        }
    }

    /// <summary>After the commit of <paramref name="decision"/>: counts its events.</summary>
    public void Committed(RunDecision decision)
    {
        if (decision is not Transition t || !_pending.TryGetValue(t, out var d))
        {
            return;
        }
        _pending.Remove(t);
        var profile = new KeyValuePair<string, object?>("profile", d.Profile);
        foreach (var job in t.Jobs)
        {
            // A phase starts when its job is queued (an external phase, with its phase.started event).
            if (job.Kind == JobRequest.ExecutePhase)
            {
                _phaseStarts.Started(d.RunId, job.Phase, job.Iteration, d.Now);
            }
        }
        foreach (var e in t.Events)
        {
            switch (e.Type)
            {
                case "run.started":
                    _created.Add(1, profile);
                    break;
                case "run.completed" or "run.failed" or "run.cancelled" or "run.expired":
                    _finished.Add(1, profile, new("status", e.Type["run.".Length..]));
                    _phaseStarts.Forget(d.RunId);
                    break;
                case "gate.approved" or "budget.approved":
                    _approvals.Add(1, profile, new("kind", e.Type == "gate.approved" ? "gate" : "budget"));
                    _gateWait.Record(d.WaitedSeconds, profile, new("kind", d.WaitReason ?? "gate"), new("outcome", "approved"));
                    break;
                case "gate.rejected":
                    _rejections.Add(1, profile);
                    _gateWait.Record(d.WaitedSeconds, profile, new("kind", "gate"), new("outcome", "rejected"));
                    break;
                case "gate.expired":
                    _gateWait.Record(d.WaitedSeconds, profile, new("kind", "gate"), new("outcome", "expired"));
                    break;
                case "phase.started" when e.Phase is not null && e.Iteration is { } i:
                    _phaseStarts.Started(d.RunId, e.Phase, i, d.Now);
                    break;
                case "phase.completed" or "phase.failed" or "gate.opened" when e.Phase is not null && e.Iteration is { } i:
                    // A phase with a gate has done its work when the gate opens; the wait is the gate's histogram.
                    if (_phaseStarts.Ended(d.RunId, e.Phase, i) is { } started)
                    {
                        _phaseDuration.Record((d.Now - started) / 1000.0, profile, new("phase", e.Phase),
                            new("outcome", e.Type == "phase.failed" ? "failed" : "completed"));
                    }
                    break;
            }
        }
    }

    private IEnumerable<Measurement<long>> ActiveRuns() =>
        Snapshot().Active.Select(a => new Measurement<long>(a.Count, new KeyValuePair<string, object?>("status", a.Status)));

    private IEnumerable<Measurement<long>> QueueDepth() =>
        Snapshot().Queued.Select(q => new Measurement<long>(q.Count, new KeyValuePair<string, object?>("kind", q.Kind)));

    /// <summary>
    /// One read for both gauges, shared by the callbacks of one collection (OpenTelemetry calls each gauge's callback
    /// on its own, synchronously). A database that cannot answer leaves the gauges out rather than fail the scrape.
    /// </summary>
    private GaugeSnapshot Snapshot()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return ReadCached(ref _snapshot, GaugeSnapshotAge, async (c, readAt) =>
        {
            var active = await RunStore.ActiveCountsAsync(c);
            var queued = await Engine.JobQueue.DueByKindAsync(c, nowMs);
            var all = new[] { "pending", "running", "awaiting_approval", "paused" }
                .Select(s => (s, active.Where(a => a.Status == s).Sum(a => a.Count))).ToList();
            // Every kind of job, also those none of is waiting (a series that comes and goes reads as a gap).
            var kinds = new[] { JobRequest.ExecutePhase, JobRequest.ExpireGate, JobRequest.RemindGate, JobRequest.RunExecution, JobRequest.DeliverWebhook }
                .Select(k => (k, queued.Where(q => q.Kind == k).Sum(q => q.Count))).ToList();
            return new GaugeSnapshot(readAt, all, kinds);
        }, readAt => new GaugeSnapshot(readAt, [], []));
    }

    /// <summary>
    /// The size gauges' read, kept a minute: the size moves slowly, and PostgreSQL's pg_database_size walks the
    /// database's files. A database that cannot answer leaves the gauges out.
    /// </summary>
    private IEnumerable<Measurement<long>> SizeMeasurement(Func<SizeRead, long> of) =>
        ReadCached(ref _size, SizeSnapshotAge, async (c, readAt) =>
        {
            var bytes = await DatabaseSize.BytesAsync(c);
            var runs = await RunStore.TotalCountAsync(c);
            return new SizeRead(readAt, bytes, runs == 0 ? 0 : bytes / runs);
        }, readAt => new SizeRead(readAt, -1, -1)) is { Bytes: >= 0 } read ? [new Measurement<long>(of(read))] : [];

    /// <summary>
    /// <paramref name="cached"/> while younger than <paramref name="maxAge"/>, else read afresh (within 5 s), or
    /// <paramref name="unavailable"/> when the database cannot answer. One read at a time, for all the gauges.
    /// </summary>
    private T ReadCached<T>(ref T? cached, TimeSpan maxAge, Func<System.Data.IDbConnection, long, Task<T>> read, Func<long, T> unavailable)
        where T : class, IReadAt
    {
        lock (_snapshotLock)
        {
            var now = Stopwatch.GetTimestamp();
            if (cached is { } fresh && Stopwatch.GetElapsedTime(fresh.ReadAt, now) < maxAge)
            {
                return fresh;
            }
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                cached = _db.ReadAsync(c => read(c, now), timeout.Token).GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or OperationCanceledException or InvalidOperationException)
            {
                cached = unavailable(now);
            }
            return cached;
        }
    }

    private interface IReadAt
    {
        long ReadAt { get; }
    }

    private sealed record SizeRead(long ReadAt, long Bytes, long BytesPerRun) : IReadAt;

    private sealed record GaugeSnapshot(long ReadAt, IReadOnlyList<(string Status, long Count)> Active, IReadOnlyList<(string Kind, long Count)> Queued) : IReadAt;

    private sealed record PendingCount(string Profile, string RunId, long WaitingSince, string? WaitReason, long Now)
    {
        public double WaitedSeconds => Math.Max(0, Now - WaitingSince) / 1000.0;
    }
}
