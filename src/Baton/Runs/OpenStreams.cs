namespace Baton.Runs;

/// <summary>
/// The event streams open on this node, by key: how many each key and the node may hold, and a way to end a key's
/// streams the moment it is revoked, instead of at their next periodic check.
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
    public (Lease? Lease, string? Refused) TryOpen(string keyId)
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
            var lease = new Lease(this, keyId);
            leases.Add(lease);
            _total++;
            return (lease, null);
        }
    }

    /// <summary>Ends every stream opened with this key; called once its revocation has committed.</summary>
    public void EndStreamsOf(string keyId)
    {
        List<Lease> ending;
        lock (_lock)
        {
            ending = _byKey.TryGetValue(keyId, out var leases) ? [.. leases] : [];
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

    /// <summary>One open stream: <see cref="Ended"/> fires when its key is revoked; disposing frees its place.</summary>
    public sealed class Lease(OpenStreams owner, string keyId) : IDisposable
    {
        private readonly CancellationTokenSource _ended = new();

        public string KeyId { get; } = keyId;

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
