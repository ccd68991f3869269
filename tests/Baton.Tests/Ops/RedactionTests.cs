using System.Text;
using Baton.Client;
using Baton.Ops;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Ops;

/// <summary>
/// Issue 14's redaction test: a real server process with a secret in its environment, given to a worker by
/// `secret_env`; the agent (a shell script) prints it to stdout and stderr, writes it into an artifact and its summary,
/// and, in a second run, fails with it in its error. Then every row of every table, the server's own (JSON) log and
/// every span exported by OTLP are searched for it (for its first 24 characters, however the rest is spelled): none
/// has it, and the mask stands where it was.
/// </summary>
public sealed class RedactionTests : IAsyncLifetime
{
    private const string Token = "redaction-test-admin-token-0123456789";
    private const string SecretVariable = "REDACTION_TEST_SECRET";

    // Random per run: a hit can only be this test's secret. Characters JSON escapes (" < +) make its stored
    // spelling differ from what the agent prints.
    private readonly string _secret;

    // What no stored or exported text may hold, however it spells the rest: the secret's first 24 characters.
    private readonly string _core = "sk-live-" + Guid.NewGuid().ToString("N")[..16];

    // An API key's shape, found without being configured anywhere.
    private readonly string _apiKey = "bat_" + Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray())
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private readonly string _dataDir = Directory.CreateTempSubdirectory("baton-redact-").FullName;

    // The agent's program lives outside the data dir, which the sandbox hides from agents.
    private readonly string _scripts = Directory.CreateTempSubdirectory("baton-redact-scripts-").FullName;
    private OtlpReceiver _collector = null!;

    public RedactionTests() => _secret = _core + "\"<+>";

    public async Task InitializeAsync() => _collector = await OtlpReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _collector.DisposeAsync();
        TestDatabase.Drop(_dataDir);
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_scripts, recursive: true);
    }

    [Fact]
    public async Task A_secret_the_agent_prints_writes_and_fails_with_is_nowhere_in_the_database_the_logs_or_the_spans()
    {
        var script = Path.Combine(_scripts, "leaky-agent.sh");
        // A line longer than the log keeps (8 KiB) with the secret across the cut, then the secret on each stream, in
        // the artifact, and last on stdout (the execution's summary); with `fail`, in the error (stderr's tail).
        await File.WriteAllTextAsync(script, $$"""
            #!/bin/sh
            long=$(head -c 8188 /dev/zero | tr '\0' x)
            echo "$long$AGENT_SECRET"
            echo "stdout says $AGENT_SECRET"
            echo "stderr says $AGENT_SECRET" >&2
            echo "and an api key {{_apiKey}}"
            printf 'report with %s inside\n' "$AGENT_SECRET" > "$BATON_ARTIFACTS_DIR/report.md"
            if [ "$1" = fail ]; then
              echo "giving up on $AGENT_SECRET" >&2
              exit 3
            fi
            echo "done with $AGENT_SECRET"
            """.Replace("\r", "", StringComparison.Ordinal));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string completed, failed;
        string output;
        using (var server = await ServerProcess.StartAsync(_dataDir, Token, new Dictionary<string, string>
        {
            [SecretVariable] = _secret,
            ["BATON_LOG_FORMAT"] = "json",
            // Everything Baton logs, so its own log has every chance to repeat the agent.
            ["Logging__LogLevel__Baton"] = "Debug",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _collector.Endpoint,
            // Names whose values cannot be redacted: said at start-up.
            [Redactor.ExtraNamesSetting] = "REDACTION_TEST_SHORT, REDACTION_TEST_UNSET",
            ["REDACTION_TEST_SHORT"] = "abc",
        }))
        {
            var client = server.Client(Token);
            var secretEnv = new Dictionary<string, string> { ["AGENT_SECRET"] = SecretVariable };
            await client.CreateWorkerAsync(new CreateWorkerRequest("leaky", "command", [script], SecretEnv: secretEnv));
            await client.CreateWorkerAsync(new CreateWorkerRequest("leaky_fail", "command", [script, "fail"], SecretEnv: secretEnv));
            foreach (var profile in new[] { "leaky", "leaky_fail" })
            {
                await File.WriteAllTextAsync(Path.Combine(_dataDir, "profiles", profile + ".yaml"), $"""
                    name: {profile}
                    phases:
                      - name: work
                        worker: {profile}
                        produces: [report.md]
                        max_attempts: 1
                    """);
            }
            completed = (await client.CreateRunAsync(new CreateRunRequest("leaky", "print the secret"))).RunId;
            failed = (await client.CreateRunAsync(new CreateRunRequest("leaky_fail", "print the secret and fail"))).RunId;
            await client.WaitForStatusAsync(completed, "completed");
            await client.WaitForStatusAsync(failed, "failed");

            // What the API serves: the log, the artifact, the run's error.
            var logs = (await client.GetLogsAsync(completed, 500)).Lines.Select(l => l.Message).ToList();
            Assert.Contains($"stdout says {Redactor.Mask}", logs);
            Assert.Contains($"stderr says {Redactor.Mask}", logs);
            Assert.Contains($"and an api key bat_{Redactor.Mask}", logs);
            Assert.Contains(logs, l => l.StartsWith("xxxxxxxx", StringComparison.Ordinal) && l.EndsWith("…", StringComparison.Ordinal));
            Assert.Equal($"report with {Redactor.Mask} inside\n", await client.GetArtifactAsync(completed, "report.md"));
            var failedRun = await client.GetRunAsync(failed);
            Assert.Contains($"giving up on {Redactor.Mask}", System.Text.Json.JsonSerializer.Serialize(failedRun), StringComparison.Ordinal);
            // Spans leave in batches, every 5 s: the failed run's agent span (its status is the error) is awaited.
            await Eventually.TrueAsync(() => _collector.Spans.Any(s => s.Tag("baton.run_id") == failed && s.Name.StartsWith("invoke_agent", StringComparison.Ordinal)),
                "the failed run's agent span was exported", TimeSpan.FromSeconds(60));
            await server.WaitForOutputAsync("failed: ", TimeSpan.FromSeconds(30));
            output = server.Output;
        }

        // Every value of every row of every table, text or bytes.
        var (rows, values) = await SearchDatabaseAsync(_core, _apiKey);
        Assert.Empty(rows);
        Assert.Contains(values, v => v.Contains($"report with {Redactor.Mask} inside", StringComparison.Ordinal));
        Assert.Contains(values, v => v.Contains($"done with {Redactor.Mask}", StringComparison.Ordinal));
        Assert.Contains(values, v => v.Contains($"giving up on {Redactor.Mask}", StringComparison.Ordinal));

        // The server's own log: JSON lines, where the secret would be spelled as JSON escapes it.
        Assert.NotEmpty(output);
        Assert.DoesNotContain(_core, output, StringComparison.Ordinal);
        Assert.DoesNotContain(_apiKey, output, StringComparison.Ordinal);
        Assert.Contains(Redactor.Mask, output, StringComparison.Ordinal);
        Assert.Contains("BATON_REDACT_ENV names REDACTION_TEST_SHORT, which is unset or shorter than 8 characters", output, StringComparison.Ordinal);
        Assert.Contains("BATON_REDACT_ENV names REDACTION_TEST_UNSET, which is unset or shorter than 8 characters", output, StringComparison.Ordinal);

        // Every span, every byte of each export (attributes, status, events).
        foreach (var body in _collector.Bodies)
        {
            Assert.True(body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(_core)) < 0, "a span holds the secret");
            Assert.True(body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(_apiKey)) < 0, "a span holds the API key");
        }
        Assert.Contains(_collector.Bodies, b => b.AsSpan().IndexOf(Encoding.UTF8.GetBytes($"giving up on {Redactor.Mask}")) >= 0);
    }

    /// <summary>The rows (table: value) that hold any of <paramref name="needles"/>, and every text value read.</summary>
    private async Task<(List<string> Rows, List<string> Values)> SearchDatabaseAsync(params string[] needles)
    {
        await using var c = await TestDatabase.ConnectAsync(_dataDir);
        var tables = TestDatabase.IsPostgres
            ? await c.QueryAsync<string>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
            : await c.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table'");
        var hits = new List<string>();
        var values = new List<string>();
        foreach (var table in tables)
        {
            await using var command = c.CreateCommand();
            command.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var text = reader.IsDBNull(i) ? null : reader.GetValue(i) switch
                    {
                        byte[] bytes => Encoding.UTF8.GetString(bytes),
                        var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
                    };
                    if (text is null)
                    {
                        continue;
                    }
                    values.Add(text);
                    if (needles.Any(n => text.Contains(n, StringComparison.Ordinal)))
                    {
                        hits.Add($"{table}.{reader.GetName(i)}: {text[..Math.Min(text.Length, 200)]}");
                    }
                }
            }
        }
        Assert.True(values.Count > 0, "the database was read");
        return (hits, values);
    }
}
