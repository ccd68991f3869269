using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Baton.Ops;

/// <summary>A Prometheus histogram kept in memory (per process, like any Prometheus client library's).</summary>
public sealed class Histogram(string name, string help, double[] buckets)
{
    private readonly ConcurrentDictionary<string, Series> _series = new();

    public void Observe(string labels, double value) => _series.GetOrAdd(labels, _ => new Series(buckets.Length)).Observe(buckets, value);

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var prefix = labels.Length == 0 ? "" : labels + ",";
            long cumulative = 0;
            for (var i = 0; i < buckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref series.Counts[i]);
                text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"").Append(buckets[i].ToString(CultureInfo.InvariantCulture)).Append("\"} ").Append(cumulative).Append('\n');
            }
            var count = Interlocked.Read(ref series.Count);
            text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"+Inf\"} ").Append(count).Append('\n');
            var braces = labels.Length == 0 ? "" : "{" + labels + "}";
            text.Append(name).Append("_sum").Append(braces).Append(' ').Append(series.Sum.ToString(CultureInfo.InvariantCulture)).Append('\n');
            text.Append(name).Append("_count").Append(braces).Append(' ').Append(count).Append('\n');
        }
    }

    private sealed class Series(int buckets)
    {
        public readonly long[] Counts = new long[buckets];
        public long Count;
        private readonly Lock _sumLock = new();

        public double Sum { get; private set; }

        public void Observe(double[] bounds, double value)
        {
            var index = Array.FindIndex(bounds, b => value <= b);
            if (index >= 0)
            {
                Interlocked.Increment(ref Counts[index]);
            }
            Interlocked.Increment(ref Count);
            lock (_sumLock)
            {
                Sum += value;
            }
        }
    }
}

/// <summary>The histograms this node keeps; counters come from the database instead, so they survive restarts.</summary>
/// <summary>A Prometheus counter kept in memory, by label set.</summary>
public sealed class Counter(string name, string help)
{
    private readonly ConcurrentDictionary<string, long[]> _series = new();

    public void Add(string labels, long value = 1) => Interlocked.Add(ref _series.GetOrAdd(labels, _ => new long[1])[0], value);

    public long Value(string labels) => _series.TryGetValue(labels, out var total) ? Interlocked.Read(ref total[0]) : 0;

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" counter\n");
        foreach (var (labels, total) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Interlocked.Read(ref total[0])).Append('\n');
        }
    }
}

public sealed class NodeMetrics
{
    private static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

    public Histogram HttpRequests { get; } = new("baton_http_request_duration_seconds", "HTTP request durations by method, route and status.", SecondsBuckets);

    public Histogram PhaseExecutions { get; } = new("baton_execution_duration_seconds", "Agent execution durations by worker and status.", SecondsBuckets);

    /// <summary>Claims by idle workers: a claim that finds nothing is a wasted write.</summary>
    public Counter JobClaims { get; } = new("baton_job_claims_total", "Job claims by workers, by whether they found a job.");

    public static string Label(string name, string value) =>
        $"{name}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"";
}
