namespace Baton.Runs;

/// <summary>
/// The event streams open on this node, by key: how many each key and the node may hold, and a way to end a key's
/// streams the moment it is revoked, or a dashboard session's the moment it signs out, instead of at their next
/// periodic check.
/// </summary>
public sealed class OpenStreams(UsageLimits limits)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<Lease>> _byKey = new(StringComparer.Ordinal);
    private int _total;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>A lease on one stream, or why there is none (the limit that was reached).</summary>
    public (Lease? Lease, string? Refused) TryOpen(string keyId, string? sessionId = null)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(keyId, out var leases))
            {
                leases = _byKey[keyId] = [];
            }
            if (leases.Count >= limits.MaxStreamsPerKey)
            {
                return (null, $"this key has {leases.Count} event streams open, the most allowed per key (BATON_MAX_STREAMS_PER_KEY); close one, or share one stream across tabs");
            }
            if (_total >= limits.MaxStreams)
            {
                return (null, $"{_total} event streams are open on this server, the most allowed (BATON_MAX_STREAMS); try again later");
            }
            var lease = new Lease(this, keyId, sessionId);
            leases.Add(lease);
            _total++;
            return (lease, null);
        }
    }

    /// <summary>Ends every stream opened with this key; called once its revocation has committed.</summary>
    public void EndStreamsOf(string keyId) => End(leases => leases.Where(l => l.KeyId == keyId));

    /// <summary>Ends the streams a dashboard session opened; called once its sign-out has committed.</summary>
    public void EndStreamsOfSession(string sessionId) => End(leases => leases.Where(l => l.SessionId == sessionId));

    private void End(Func<IEnumerable<Lease>, IEnumerable<Lease>> which)
    {
        List<Lease> ending;
        lock (_lock)
        {
            ending = which(_byKey.Values.SelectMany(l => l)).ToList();
        }
        foreach (var lease in ending)
        {
            lease.End();
        }
    }

    private void Release(Lease lease)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(lease.KeyId, out var leases) && leases.Remove(lease))
            {
                _total--;
                if (leases.Count == 0)
                {
                    _byKey.Remove(lease.KeyId);
                }
            }
        }
    }

    /// <summary>One open stream: <see cref="Ended"/> fires when its key is revoked or its session signs out; disposing frees its place.</summary>
    public sealed class Lease(OpenStreams owner, string keyId, string? sessionId) : IDisposable
    {
        private readonly CancellationTokenSource _ended = new();

        public string KeyId { get; } = keyId;

        /// <summary>The dashboard session that opened it; null for a bearer key's stream.</summary>
        public string? SessionId { get; } = sessionId;

        public CancellationToken Ended => _ended.Token;

        internal void End()
        {
            try
            {
                _ended.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The stream closed on its own meanwhile.
            }
        }

        public void Dispose()
        {
            owner.Release(this);
            _ended.Dispose();
        }
    }
}
