using System.Globalization;
using System.Net;
using System.Text;
using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Ops;

/// <summary>/metrics parsed as the Prometheus text format (0.0.4), the way a scraper reads it: families, not substrings.</summary>
public class MetricsExpositionTests
{
    private static readonly string Metered = TestProfiles.Gated
        .Replace("name: gated", "name: metered", StringComparison.Ordinal)
        .Replace("OUTCOME", "expire", StringComparison.Ordinal);

    [Fact]
    public async Task Metrics_parse_with_help_and_type_counters_end_in_total_and_histograms_have_buckets_sum_and_count()
    {
        using var factory = new BatonFactory(profiles: new Dictionary<string, string> { ["metered"] = Metered });
        var client = factory.Client();
        var approved = await client.CreateRunAsync(new CreateRunRequest("metered", "approved"));
        await client.WaitForGateAsync(approved.RunId, "draft", 1);
        await client.ApproveAsync(approved.RunId);
        await client.WaitForStatusAsync(approved.RunId, "completed");
        var rejected = await client.CreateRunAsync(new CreateRunRequest("metered", "rejected"));
        await client.WaitForGateAsync(rejected.RunId, "draft", 1);
        await client.RejectAsync(rejected.RunId, "again");
        await client.WaitForGateAsync(rejected.RunId, "draft", 2);
        await client.CancelAsync(rejected.RunId, "enough");

        var response = await factory.Http().GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var families = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        foreach (var family in families.Values)
        {
            Assert.False(string.IsNullOrWhiteSpace(family.Help), $"{family.Name} has no HELP");
            Assert.Contains(family.Type, new[] { "counter", "gauge", "histogram" });
            // _total is the counters' suffix, and only theirs (issue 14: baton_runs_total was a gauge).
            Assert.Equal(family.Type == "counter", family.Name.EndsWith("_total", StringComparison.Ordinal));
            if (family.Type == "histogram")
            {
                PrometheusText.AssertHistogram(family);
            }
            else
            {
                Assert.All(family.Samples, s => Assert.Equal(family.Name, s.Name));
            }
        }

        var profile = new Dictionary<string, string> { ["profile"] = "metered" };
        Assert.Equal(2, families.Value("baton_runs_created_total", "counter", profile));
        Assert.Equal(1, families.Value("baton_runs_finished_total", "counter", new() { ["profile"] = "metered", ["status"] = "completed" }));
        Assert.Equal(1, families.Value("baton_runs_finished_total", "counter", new() { ["profile"] = "metered", ["status"] = "cancelled" }));
        Assert.Equal(1, families.Value("baton_approvals_total", "counter", new() { ["profile"] = "metered", ["kind"] = "gate" }));
        Assert.Equal(1, families.Value("baton_rejections_total", "counter", profile));
        Assert.Equal(["awaiting_approval", "paused", "pending", "running"],
            families.Of("baton_runs_active", "gauge").Samples.Select(s => s.Labels["status"]).Order(StringComparer.Ordinal));
        Assert.Contains(families.Of("baton_queue_depth", "gauge").Samples, s => s.Labels["kind"] == "execute_phase");
        Assert.Equal(1, families.Value("baton_gate_wait_duration_seconds_count", "histogram", new() { ["profile"] = "metered", ["kind"] = "gate", ["outcome"] = "approved" }));
        Assert.Equal(1, families.Value("baton_gate_wait_duration_seconds_count", "histogram", new() { ["profile"] = "metered", ["kind"] = "gate", ["outcome"] = "rejected" }));
        // draft: three times to its gate; publish: once.
        Assert.Equal(3, families.Value("baton_phase_duration_seconds_count", "histogram", new() { ["profile"] = "metered", ["phase"] = "draft", ["outcome"] = "completed" }));
        Assert.Equal(1, families.Value("baton_phase_duration_seconds_count", "histogram", new() { ["profile"] = "metered", ["phase"] = "publish", ["outcome"] = "completed" }));
        Assert.True(families.Value("baton_execution_duration_seconds_count", "histogram", new() { ["worker"] = "template", ["status"] = "success" }) >= 4);
        Assert.True(families.Value("baton_job_claim_duration_seconds_count", "histogram", new() { ["result"] = "job" }) >= 1);
        // The database's writes and commits; on SQLite its one writer's busy time, whose rate is its utilization.
        var writes = families.Value("baton_database_writes_total", "counter", []);
        var commits = families.Value("baton_database_commits_total", "counter", []);
        Assert.InRange(commits, 1, writes);
        if (TestDatabase.IsPostgres)
        {
            Assert.False(families.ContainsKey("baton_database_writer_busy_seconds_total"));
        }
        else
        {
            Assert.InRange(families.Value("baton_database_writer_busy_seconds_total", "counter", []), double.Epsilon, 60);
        }
        // ASP.NET Core's own meter, by route.
        Assert.True(families.Value("http_server_request_duration_seconds_count", "histogram",
            new() { ["http_route"] = "/api/runs/{id}/approve", ["http_request_method"] = "POST", ["http_response_status_code"] = "200" }) >= 1);
    }
}

/// <summary>A reader of the Prometheus text exposition format: # HELP, # TYPE and samples with escaped label values.</summary>
internal static class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed class Family(string name)
    {
        public string Name { get; } = name;
        public string? Help { get; set; }
        public string? Type { get; set; }
        public List<Sample> Samples { get; } = [];
    }

    public static Dictionary<string, Family> Parse(string text)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        Family? current = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] is "HELP" or "TYPE")
                {
                    var family = families.TryGetValue(parts[2], out var f) ? f : families[parts[2]] = new Family(parts[2]);
                    if (parts[1] == "HELP")
                    {
                        Assert.Null(family.Help);
                        family.Help = parts.Length == 4 ? parts[3] : "";
                    }
                    else
                    {
                        Assert.Null(family.Type);
                        Assert.Empty(family.Samples);
                        family.Type = parts[3];
                        current = family;
                    }
                }
                continue;
            }
            var sample = ParseSample(line);
            Assert.True(current is not null, $"sample before any # TYPE: {line}");
            var suffixes = current!.Type == "histogram" ? new[] { "_bucket", "_sum", "_count" } : [""];
            Assert.True(suffixes.Any(s => sample.Name == current.Name + s), $"sample {sample.Name} under # TYPE {current.Name} {current.Type}");
            current.Samples.Add(sample);
        }
        return families;
    }

    private static Sample ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':'))
        {
            i++;
        }
        var name = line[..i];
        Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*$", name);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var label = line[i..eq];
                Assert.Matches("^[a-zA-Z_][a-zA-Z0-9_]*$", label);
                Assert.Equal('"', line[eq + 1]);
                var value = new StringBuilder();
                i = eq + 2;
                for (; line[i] != '"'; i++)
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch { 'n' => '\n', var c => c });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                }
                Assert.True(labels.TryAdd(label, value.ToString()), $"label {label} twice: {line}");
                i++;
                if (line[i] == ',')
                {
                    i++;
                }
            }
            i++;
        }
        Assert.Equal(' ', line[i]);
        var rest = line[(i + 1)..].Split(' ');
        Assert.InRange(rest.Length, 1, 2);
        return new Sample(name, labels, ParseValue(rest[0]));
    }

    private static double ParseValue(string value) => value switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    /// <summary>Each label set has ascending `le` buckets ending in +Inf, cumulative counts, a _sum, and a _count equal to +Inf's.</summary>
    public static void AssertHistogram(Family family)
    {
        Assert.NotEmpty(family.Samples);
        var series = family.Samples.GroupBy(s => Key(s.Labels.Where(l => l.Key != "le")));
        foreach (var group in series)
        {
            var buckets = group.Where(s => s.Name == family.Name + "_bucket").Select(s => (Le: ParseValue(s.Labels["le"]), s.Value)).ToList();
            Assert.True(buckets.Count >= 2, $"{family.Name}{group.Key}: {buckets.Count} buckets");
            Assert.Equal(double.PositiveInfinity, buckets[^1].Le);
            for (var b = 1; b < buckets.Count; b++)
            {
                Assert.True(buckets[b].Le > buckets[b - 1].Le, $"{family.Name}{group.Key}: le not ascending");
                Assert.True(buckets[b].Value >= buckets[b - 1].Value, $"{family.Name}{group.Key}: buckets not cumulative");
            }
            var count = Assert.Single(group, s => s.Name == family.Name + "_count");
            Assert.Single(group, s => s.Name == family.Name + "_sum");
            Assert.Equal(buckets[^1].Value, count.Value);
        }
    }

    private static string Key(IEnumerable<KeyValuePair<string, string>> labels) =>
        "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";

    public static Family Of(this Dictionary<string, Family> families, string name, string type)
    {
        Assert.True(families.TryGetValue(name, out var family), $"no family {name}");
        Assert.Equal(type, family!.Type);
        return family;
    }

    /// <summary>The value of the one sample of <paramref name="sampleName"/> (a family's, or a histogram's _count) whose labels include these.</summary>
    public static double Value(this Dictionary<string, Family> families, string sampleName, string type, Dictionary<string, string> labels)
    {
        var familyName = type == "histogram" ? sampleName[..sampleName.LastIndexOf('_')] : sampleName;
        var family = families.Of(familyName, type);
        var matching = family.Samples.Where(s => s.Name == sampleName && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        Assert.True(matching.Count == 1, $"{matching.Count} samples of {sampleName} with {Key(labels)}");
        return matching[0].Value;
    }
}
