namespace Baton.Engine;

/// <summary>
/// "There is a job to claim": wakes one idle worker per job instead of every worker (each woken worker runs a claim,
/// which is a write). Carries no data, so losing a wake costs at most the pacemaker's slow poll: the database is the truth.
/// </summary>
/// <remarks>
/// A worker takes a <see cref="Ticket"/> before it looks for a job, so a job that comes after the look still finds
/// the ticket and no wake falls between the look and the sleep. A wake can reach a worker that is about to claim
/// something else; when that worker finds work, it passes the wake on (<see cref="Ticket.PassOn"/>).
/// </remarks>
public sealed class JobSignal
{
    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource> _waiting = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes at the next wake: jobs were queued or a worker's slot freed, so the node's pacemaker (in
    /// <see cref="EngineHost"/>) looks again at when the next job comes due. Take it before that look.
    /// </summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>Wakes up to <paramref name="jobs"/> workers, the ones that have waited longest first, here and on the other nodes.</summary>
    public void Wake(int jobs = 1)
    {
        WakeHere(jobs);
        Broadcast?.Invoke(jobs);
    }

    /// <summary>
    /// Jobs were queued for later, or a job's due time moved: every node's pacemaker looks again, to sleep only until
    /// the next one comes due, and no worker wakes, since none could claim it yet.
    /// </summary>
    public void Scheduled() => Wake(0);

    /// <summary>How a wake-up reaches the other nodes sharing the database (<see cref="ClusterSignals"/>); none on one node. Zero jobs: their pacemakers look again.</summary>
    public Action<int>? Broadcast { get; set; }

    /// <summary>
    /// The payload of a NOTIFY that a write transaction may send itself, with its COMMIT, for the jobs it queues, or
    /// null when it should leave them to <see cref="Broadcast"/> (<see cref="ClusterSignals.AnnounceJobsIfQuietAsync"/>).
    /// </summary>
    public Func<int, string?>? QuietAnnouncement { get; set; }

    /// <summary>Wakes this node's workers only: for new jobs another node announced.</summary>
    public void WakeHere(int jobs)
    {
        WakeWorkers(jobs);
        LookAgain();
    }

    /// <summary>
    /// Asks the node's pacemaker to look for claimable jobs and wake as many workers, waking none itself: for when this
    /// node may have missed signals (it was not listening to the other nodes), where waking every worker would send
    /// all of them to claim for what may be nothing.
    /// </summary>
    public void LookAgain() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Wakes up to <paramref name="jobs"/> idle workers of this node: the pacemaker's wake, for jobs that came due by time.</summary>
    public void WakeWorkers(int jobs)
    {
        lock (_lock)
        {
            for (; jobs > 0 && _waiting.First is { } first; jobs--)
            {
                _waiting.RemoveFirst();
                first.Value.TrySetResult();
            }
        }
    }

    /// <summary>Take before looking for a job; dispose when done with it.</summary>
    public Ticket Enter()
    {
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            return new Ticket(this, _waiting.AddLast(woken));
        }
    }

    public sealed class Ticket : IDisposable
    {
        private readonly JobSignal _signal;
        private readonly LinkedListNode<TaskCompletionSource> _node;

        internal Ticket(JobSignal signal, LinkedListNode<TaskCompletionSource> node)
        {
            _signal = signal;
            _node = node;
        }

        /// <summary>Completes when a job is signalled for this worker.</summary>
        public Task Woken => _node.Value.Task;

        /// <summary>The worker found other work: a wake that reached it goes to another worker.</summary>
        public void PassOn()
        {
            Dispose();
            if (Woken.IsCompleted)
            {
                _signal.WakeWorkers(1);
            }
        }

        public void Dispose()
        {
            lock (_signal._lock)
            {
                if (_node.List is not null)
                {
                    _signal._waiting.Remove(_node);
                }
            }
        }
    }
}
