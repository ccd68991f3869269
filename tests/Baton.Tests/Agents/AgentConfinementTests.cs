using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.Client;
using Baton.Storage;
using Baton.Tests.Support;
using Dapper;

namespace Baton.Tests.Agents;

/// <summary>What an agent, and a repository it works on, can reach of the server: real scripts, real bubblewrap.</summary>
public sealed class AgentConfinementTests : IDisposable
{
    private readonly SampleRepo _repo = new();
    private readonly BatonFactory _factory = new();
    private readonly BatonClient _client;
    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public AgentConfinementTests(Xunit.Abstractions.ITestOutputHelper output)
    {
        _output = output;
        // An admin.token in the data dir too: one more secret the agent must not read.
        _factory.Settings["BATON_LOCAL_ADMIN_KEY"] = "true";
        _client = _factory.Client();
    }

    [Fact]
    public async Task An_agent_cannot_read_the_server_environment_token_or_database_nor_write_a_profile()
    {
        var script = Script("probe.sh", """
            #!/bin/sh
            out="$BATON_ARTIFACTS_DIR/probe.md"
            echo "probe ran" > "$out"
            cat "/proc/$SERVER_PID/environ" > /dev/null 2>&1 && echo "LEAK environ of the server" >> "$out"
            for f in /proc/[0-9]*/environ; do
              if tr '\0' '\n' < "$f" 2>/dev/null | grep -q '^BATON_DATA_DIR='; then echo "LEAK environ $f" >> "$out"; fi
            done
            cat "$DATA_DIR/admin.token" > /dev/null 2>&1 && echo "LEAK admin.token: $(cat "$DATA_DIR/admin.token")" >> "$out"
            head -c 16 "$DATA_DIR/baton.db" > /dev/null 2>&1 && echo "LEAK baton.db" >> "$out"
            printf 'name: evil\nphases:\n  - name: x\n' > "$DATA_DIR/profiles/evil.yaml" 2>/dev/null && echo "LEAK wrote a profile" >> "$out"
            ls "$DATA_DIR" > /dev/null 2>&1 && echo "LEAK sees the data dir" >> "$out"
            [ "$HOME" = /root ] && echo "LEAK home is the server's" >> "$out"
            ls /root > /dev/null 2>&1 && echo "LEAK sees /root" >> "$out"
            echo "home=$HOME" >> "$out"
            echo "pids=$(ls -d /proc/[0-9]* | wc -l)" >> "$out"
            exit 0
            """);
        var run = await StartAsync([script], "[probe.md]", env: new Dictionary<string, string>
        {
            ["SERVER_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DATA_DIR"] = _factory.DataDir,
        });
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error);
        var probe = await _client.GetArtifactAsync(run.RunId, "probe.md");
        Assert.Contains("probe ran", probe, StringComparison.Ordinal);
        Assert.DoesNotContain("LEAK", probe, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_factory.DataDir, "profiles", "evil.yaml")));
        var token = File.ReadAllText(Path.Combine(_factory.DataDir, "admin.token")).Trim();
        Assert.DoesNotContain(token, probe, StringComparison.Ordinal);
        Assert.DoesNotContain((await _client.GetLogsAsync(run.RunId, 500)).Lines, l => l.Message.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_committed_link_to_dev_zero_fails_the_phase_fast_without_reading_it()
    {
        File.CreateSymbolicLink(Path.Combine(_repo.Path, "notes.md"), "/dev/zero");
        _repo.Git("add", "notes.md");
        _repo.Git("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "a link");
        var before = PeakWorkingSet();
        var clock = Stopwatch.StartNew();
        var run = await StartAsync([Script("quiet.sh", "#!/bin/sh\necho leaving notes.md as it is")], "[notes.md]");
        var failed = await _client.WaitForStatusAsync(run.RunId, "failed");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Contains("notes.md", failed.Error, StringComparison.Ordinal);
        Assert.Contains("symbolic link", failed.Error, StringComparison.Ordinal);
        Assert.True(PeakWorkingSet() - before < 100L * 1024 * 1024, $"the server grew by {(PeakWorkingSet() - before) / 1024 / 1024} MB");
        Assert.DoesNotContain((await _client.ListArtifactsAsync(run.RunId)).Phases.SelectMany(p => p.Artifacts), a => a.Name == "notes.md");
    }

    [Fact]
    public async Task A_fifo_or_an_oversized_artifact_fails_the_phase_with_a_clear_message()
    {
        var fifo = await StartAsync([Script("fifo.sh", "#!/bin/sh\nmkfifo \"$BATON_ARTIFACTS_DIR/notes.md\"")], "[notes.md]");
        var failed = await _client.WaitForStatusAsync(fifo.RunId, "failed");
        Assert.Contains("notes.md is not a regular file", failed.Error, StringComparison.Ordinal);

        var big = await StartAsync([Script("big.sh", "#!/bin/sh\nhead -c 40000000 /dev/zero | tr '\\0' x > \"$BATON_ARTIFACTS_DIR/notes.md\"")], "[notes.md]");
        failed = await _client.WaitForStatusAsync(big.RunId, "failed");
        Assert.Contains("notes.md is larger than", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_150_MB_line_keeps_the_server_memory_bounded_and_300000_lines_are_capped()
    {
        var before = PeakWorkingSet();
        var run = await StartAsync([Script("long-line.sh", "#!/bin/sh\nhead -c 150000000 /dev/zero | tr '\\0' x\necho\necho after the long line")]);
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var grew = PeakWorkingSet() - before;
        _output.WriteLine($"peak working set grew by {grew / 1024 / 1024} MB for a 150 MB line");
        Assert.True(grew < 200L * 1024 * 1024, $"the server grew by {grew / 1024 / 1024} MB");
        var lines = await LogLinesAsync(run.RunId);
        Assert.Contains(lines, l => l.StartsWith("[output truncated", StringComparison.Ordinal));
        Assert.True(lines.Sum(l => (long)l.Length) < 1024 * 1024, "the stored log is bounded");

        var many = await StartAsync([Script("many.sh", "#!/bin/sh\nseq 300000\necho the program went on")]);
        await _client.WaitForStatusAsync(many.RunId, "completed");
        lines = await LogLinesAsync(many.RunId);
        Assert.InRange(lines.Count, 100_000, 100_010);
        Assert.Contains(lines, l => l.StartsWith("[output truncated after 100000 lines", StringComparison.Ordinal));
        Assert.DoesNotContain("300000", lines);
    }

    [Fact]
    public async Task A_huge_diff_is_stored_with_a_truncation_marker()
    {
        var run = await StartAsync([Script("huge-diff.sh", "#!/bin/sh\nseq 200000 > numbers.txt")]);
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var diff = await _client.GetArtifactAsync(run.RunId, "work.diff.patch");
        Assert.Contains("[output truncated after 100000 lines", diff, StringComparison.Ordinal);
        Assert.True(diff.Length < 2 * 1024 * 1024, $"{diff.Length} characters");
    }

    [Fact]
    public async Task The_agent_cannot_point_the_workspace_at_another_repository_or_branch()
    {
        var other = Path.Combine(_repo.Root, "other");
        Directory.CreateDirectory(other);
        var script = Script("repoint.sh", """
            #!/bin/sh
            echo "ref: refs/heads/main" > "$(git rev-parse --git-dir)/HEAD" 2>/dev/null && echo "LEAK moved HEAD" >> "$BATON_ARTIFACTS_DIR/repoint.md"
            printf 'gitdir: %s\n' "$OTHER" > .git
            echo "tried" >> "$BATON_ARTIFACTS_DIR/repoint.md"
            echo "work" > work.txt
            """);
        var run = await StartAsync([script], "[repoint.md]", env: new Dictionary<string, string> { ["OTHER"] = other });
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error);
        Assert.DoesNotContain("LEAK", await _client.GetArtifactAsync(run.RunId, "repoint.md"), StringComparison.Ordinal);
        // Baton committed on the run's branch, not on main, and not in the other folder.
        Assert.Equal("initial", _repo.Git("log", "-1", "--format=%s", "main").Trim());
        Assert.Contains("work.txt", _repo.Git("show", "--stat", $"baton/{run.RunId}"), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(other));
    }

    [Fact]
    public async Task Check_output_is_capped()
    {
        var run = await StartAsync([Script("noop.sh", "#!/bin/sh\necho ok")], check: "[sh, -c, 'seq 300000']");
        await _client.WaitForStatusAsync(run.RunId, "completed");
        var lines = await LogLinesAsync(run.RunId);
        Assert.True(lines.Count < 100_100, $"{lines.Count} lines stored");
        Assert.Contains(lines, l => l.StartsWith("[output truncated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_worker_without_network_cannot_reach_a_local_listener_and_one_with_it_can()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepting = AcceptAllAsync(listener);
        var script = Script("connect.sh", $$"""
            #!/bin/sh
            if python3 -c "import socket; socket.create_connection(('127.0.0.1', {{port}}), timeout=5)" 2>/dev/null
            then echo connected > "$BATON_ARTIFACTS_DIR/net.md"
            else echo refused > "$BATON_ARTIFACTS_DIR/net.md"
            fi
            """);
        var offline = await StartAsync([script], "[net.md]", network: false);
        await _client.WaitForStatusAsync(offline.RunId, "completed");
        Assert.Equal("refused", (await _client.GetArtifactAsync(offline.RunId, "net.md")).Trim());

        var online = await StartAsync([script], "[net.md]");
        await _client.WaitForStatusAsync(online.RunId, "completed");
        Assert.Equal("connected", (await _client.GetArtifactAsync(online.RunId, "net.md")).Trim());
        listener.Stop();
        await accepting;
    }

    [Fact]
    public async Task An_artifacts_folder_replaced_by_a_link_does_not_make_the_server_read_the_target()
    {
        var other = Path.Combine(_repo.Root, "elsewhere");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.md"), "SECRET-OUTSIDE");
        var relink = Script("relink.sh", """
            #!/bin/sh
            rm -r "$BATON_ARTIFACTS_DIR"
            ln -s "$OTHER" "$BATON_ARTIFACTS_DIR"
            """);
        var run = await StartAsync([relink], "[notes.md]", env: new Dictionary<string, string> { ["OTHER"] = other });
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.DoesNotContain("SECRET", done.Error ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain((await _client.ListArtifactsAsync(run.RunId)).Phases.SelectMany(p => p.Artifacts), a => a.Name == "notes.md");
    }

    [Fact]
    public async Task A_script_does_not_show_its_folder_nor_etc_secrets_to_the_agent()
    {
        File.WriteAllText(Path.Combine(_repo.Scripts, "id_ed25519"), "SECRET-KEY");
        var script = Script("look.sh", """
            #!/bin/sh
            out="$BATON_ARTIFACTS_DIR/look.md"
            echo "looked" > "$out"
            cat "$(dirname "$0")/id_ed25519" >> "$out" 2>/dev/null && echo "LEAK sibling" >> "$out"
            ls /etc/ssl/private > /dev/null 2>&1 && echo "LEAK ssl private" >> "$out"
            ls /etc/default > /dev/null 2>&1 && echo "LEAK etc default" >> "$out"
            [ -e /etc/environment ] && echo "LEAK etc environment" >> "$out"
            exit 0
            """);
        var run = await StartAsync([script], "[look.md]");
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error);
        var look = await _client.GetArtifactAsync(run.RunId, "look.md");
        Assert.Contains("looked", look, StringComparison.Ordinal);
        Assert.DoesNotContain("LEAK", look, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", look, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_check_of_a_worker_without_network_cannot_reach_a_local_listener()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepting = AcceptAllAsync(listener);
        // Exit code 1 when the check gets through, 3 when it cannot.
        var check = $"[python3, -c, \"import socket, sys; s = socket.socket(); s.settimeout(5); sys.exit(1 if s.connect_ex(('127.0.0.1', {port})) == 0 else 3)\"]";
        var run = await StartAsync([Script("noop.sh", "#!/bin/sh\necho ok")], network: false, check: check);
        await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        var lines = await LogLinesAsync(run.RunId);
        Assert.Contains(lines, l => l.StartsWith("check exited with code 3", StringComparison.Ordinal));
        listener.Stop();
        await accepting;
    }

    [Fact]
    public async Task Git_works_inside_the_sandbox_for_reading_the_history()
    {
        var script = Script("git.sh", """
            #!/bin/sh
            git log --format=%s > "$BATON_ARTIFACTS_DIR/git.md" 2>&1
            echo "changed" >> textutil.py
            git status --short >> "$BATON_ARTIFACTS_DIR/git.md" 2>&1
            """);
        var run = await StartAsync([script], "[git.md]");
        var done = await _client.WaitForAsync(run.RunId, r => r.Status is "completed" or "failed", "finished");
        Assert.True(done.Status == "completed", done.Error);
        var git = await _client.GetArtifactAsync(run.RunId, "git.md");
        Assert.Contains("initial", git, StringComparison.Ordinal);
        Assert.Contains("M textutil.py", git, StringComparison.Ordinal);
    }

    private async Task<List<string>> LogLinesAsync(string runId)
    {
        var data = await _factory.Service<Database>().ReadAsync(c => c.QueryAsync<string>(
            "SELECT data FROM events WHERE run_id = @runId AND type = 'log' ORDER BY seq", new { runId }));
        return [.. data.Select(d => System.Text.Json.JsonDocument.Parse(d).RootElement.GetProperty("message").GetString()!)];
    }

    private static async Task AcceptAllAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private static long PeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    private string Script(string name, string body)
    {
        var path = Path.Combine(_repo.Scripts, name);
        File.WriteAllText(path, body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private async Task<RunDetail> StartAsync(IReadOnlyList<string> argv, string produces = "[]", IReadOnlyDictionary<string, string>? env = null,
        bool? network = null, string? check = null)
    {
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        await _client.CreateWorkerAsync(new CreateWorkerRequest(name, "command", argv, Env: env, Network: network));
        var repo = await _client.CreateRepositoryAsync(new CreateRepositoryRequest("sample" + name, _repo.Path));
        var profile = "p" + name;
        File.WriteAllText(Path.Combine(_factory.DataDir, "profiles", profile + ".yaml"), $"""
            name: {profile}
            phases:
              - name: work
                worker: {name}
                produces: {produces}
                max_attempts: 1
            {(check is null ? "" : "    check: " + check)}
            """);
        return await _client.CreateRunAsync(new CreateRunRequest(profile, "do the work", RepositoryId: repo.RepositoryId));
    }

    public void Dispose()
    {
        _factory.Dispose();
        _repo.Dispose();
    }
}
