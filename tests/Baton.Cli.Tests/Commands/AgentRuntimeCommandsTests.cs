using System.Diagnostics;
using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>
/// `baton repo`, `work-item`, `exec` and `workspace` against a real server: a real git repository and a worker that
/// is a small shell script, so an execution really changes a file in a real workspace.
/// </summary>
[Collection(SharedServerCollection.Name)]
public sealed class AgentRuntimeCommandsTests(SharedServer shared) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    /// <summary>`baton` run in this test's folder, so relative paths are resolved against it.</summary>
    private Task<BatonResult> BatonHere(params string[] args) => BatonProcess.RunAsync(_dir.Path, shared.Env, args);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    /// <summary>A git repository at <paramref name="name"/> in the test's folder, with one commit on main.</summary>
    private string GitRepository(string name)
    {
        var path = Directory.CreateDirectory(Path.Combine(_dir.Path, name)).FullName;
        Git(path, "init", "--quiet", "--initial-branch=main");
        File.WriteAllText(Path.Combine(path, "README.md"), "# sample\n");
        Git(path, "add", ".");
        Git(path, "-c", "user.name=Baton Tests", "-c", "user.email=tests@baton.invalid", "commit", "--quiet", "-m", "init");
        return path;
    }

    private static string Git(string repository, params string[] args)
    {
        var info = new ProcessStartInfo("git") { WorkingDirectory = repository, RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(info.ArgumentList.Add);
        using var git = Process.Start(info)!;
        var output = git.StandardOutput.ReadToEnd();
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
        return output;
    }

    /// <summary>A command worker that runs <paramref name="script"/> (a POSIX shell script written to the test's folder).</summary>
    private async Task<WorkerInfo> ScriptWorkerAsync(string script)
    {
        var path = Path.Combine(_dir.Path, $"agent-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(path, "#!/bin/sh\n" + script);
        // Executable for its owner; Windows has no such bit (and no /bin/sh: these tests need a POSIX system).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return await shared.Admin.CreateWorkerAsync(new CreateWorkerRequest(NewName("cli-agent"), "command", [path, "{{prompt}}"]));
    }

    private async Task<WorkItemInfo> WorkItemAsync(string repositoryId)
    {
        var added = (await Baton("work-item", "add", "Write notes", "--description", "One line", "--repo", repositoryId, "--json")).Succeeds();
        return JsonSerializer.Deserialize<WorkItemInfo>(added.Stdout, BatonJson.Options)!;
    }

    [Fact]
    public async Task Repo_add_sends_a_relative_path_as_an_absolute_one_and_refuses_a_folder_that_is_not_a_git_repository()
    {
        var path = GitRepository("relative");
        Directory.CreateDirectory(Path.Combine(_dir.Path, "plain"));

        var added = JsonSerializer.Deserialize<RepositoryInfo>((await BatonHere("repo", "add", "relative", "relative", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        Assert.Equal((path, "main"), (added.Url, added.DefaultBranch));
        var list = JsonSerializer.Deserialize<RepositoryList>((await Baton("repo", "list", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        Assert.Contains(list.Repositories, r => r.RepositoryId == added.RepositoryId);
        Assert.Matches($"{added.RepositoryId} +relative +main +.* {path}\n", (await Baton("repo", "list")).Succeeds().Stdout);

        var refused = (await BatonHere("repo", "add", "plain", "plain")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Equal("error: Invalid input (400): the path is not the top folder of a git repository (a folder with a .git folder in it)", refused);

        (await Baton("repo", "delete", added.RepositoryId)).Succeeds();
        (await Baton("repo", "delete", added.RepositoryId)).FailsWithOneLine(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Exec_run_watch_succeeds_show_has_the_outcome_cancel_is_too_late_and_the_workspace_can_be_deleted()
    {
        var path = GitRepository("sample");
        var repository = JsonSerializer.Deserialize<RepositoryInfo>((await Baton("repo", "add", "sample", path, "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var item = await WorkItemAsync(repository.RepositoryId);
        Assert.Contains(item.WorkItemId, (await Baton("work-item", "list")).Succeeds().Stdout, StringComparison.Ordinal);
        var worker = await ScriptWorkerAsync("""
            echo "a line" >> notes.txt
            echo "working on: $1"
            echo '{"baton_usage": {"tokens_in": 10, "tokens_out": 5, "cost_usd": 0.001, "summary": "done"}}'
            """);

        var run = (await Baton("exec", "run", "--worker", worker.Name, "--work-item", item.WorkItemId, "--prompt", "Write notes", "--watch")).Succeeds().Stdout;
        var id = System.Text.RegularExpressions.Regex.Match(run, "^Started (exe_[0-9a-z]+) ").Groups[1].Value;
        Assert.NotEmpty(id);
        Assert.Contains("  working on: Write notes\n", run, StringComparison.Ordinal);
        Assert.EndsWith($"Execution {id} succeeded.\n", run, StringComparison.Ordinal);

        var shown = JsonDocument.Parse((await Baton("exec", "show", id, "--json")).Succeeds().Stdout).RootElement;
        Assert.Equal("success", shown.GetProperty("status").GetString());
        Assert.Equal(["notes.txt"], shown.GetProperty("output").GetProperty("files_changed").EnumerateArray().Select(f => f.GetString()));
        Assert.False(shown.GetProperty("output").GetProperty("tests_run").GetBoolean());
        Assert.Equal("done", shown.GetProperty("output").GetProperty("summary").GetString());
        Assert.Equal((15, 0.001m), (shown.GetProperty("tokens_used").GetInt64(), shown.GetProperty("cost_usd").GetDecimal()));
        var text = (await Baton("exec", "show", id, "--diff")).Succeeds().Stdout;
        Assert.Contains("Files:     notes.txt\n", text, StringComparison.Ordinal);
        Assert.Contains("Tests:     -\n", text, StringComparison.Ordinal);
        Assert.Contains("Usage:     15 tokens, $0.001, 0 tool calls\n", text, StringComparison.Ordinal);
        Assert.Contains("+++ b/notes.txt\n", text, StringComparison.Ordinal);
        Assert.Contains("\n+a line\n", text, StringComparison.Ordinal);

        var late = (await Baton("exec", "cancel", id)).FailsWithOneLine(ExitCodes.Conflict);
        Assert.Equal($"error: Conflict (409): execution '{id}' is success; only a pending or running execution can be cancelled", late);
        (await Baton("exec", "show", "exe_nope")).FailsWithOneLine(ExitCodes.NotFound);

        var workspaces = JsonSerializer.Deserialize<WorkspaceList>((await Baton("workspace", "list", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var workspace = Assert.Single(workspaces.Workspaces, w => w.OwnerId == id);
        Assert.Matches($"{workspace.Id} +{id} +baton/{id} +{repository.RepositoryId} ", (await Baton("workspace", "list")).Succeeds().Stdout);
        // A work item still uses the repository, so it cannot go.
        (await Baton("repo", "delete", repository.RepositoryId)).FailsWithOneLine(ExitCodes.Conflict);

        (await Baton("workspace", "delete", workspace.Id)).Succeeds();
        Assert.False(Directory.Exists(workspace.Path));
        workspaces = JsonSerializer.Deserialize<WorkspaceList>((await Baton("workspace", "list", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        Assert.DoesNotContain(workspaces.Workspaces, w => w.Id == workspace.Id);
        Assert.Contains($"baton/{id}", Git(path, "branch", "--list", $"baton/{id}"), StringComparison.Ordinal);
        (await Baton("workspace", "delete", workspace.Id)).FailsWithOneLine(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Exec_run_watch_follows_the_status_and_the_log_live_while_the_agent_runs()
    {
        var repository = await shared.Admin.CreateRepositoryAsync(new CreateRepositoryRequest("live", GitRepository("live")));
        var item = await WorkItemAsync(repository.RepositoryId);
        // Says one line, then waits (at most a minute) for a file `go` in its execution folder, which the test writes
        // only once `--watch` has shown that line: the watch must follow the execution while it runs.
        var worker = await ScriptWorkerAsync("""
            echo "first line from the agent"
            i=0; while [ ! -f "$BATON_ARTIFACTS_DIR/../go" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
            echo "second line"
            """);
        var lines = new List<string>();
        var shown = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = Process.Start(BatonProcess.StartInfo(shared.Folder, shared.Env, "exec", "run", "--worker", worker.Name, "--work-item", item.WorkItemId, "--prompt", "Go", "--watch"))!;
        try
        {
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }
                lock (lines)
                {
                    lines.Add(e.Data);
                }
                if (e.Data == "  first line from the agent")
                {
                    shown.TrySetResult(e.Data);
                }
            };
            process.BeginOutputReadLine();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(BatonProcess.CommandTimeout);
            await shown.Task.WaitAsync(timeout.Token);

            string[] soFar;
            lock (lines)
            {
                soFar = [.. lines];
            }
            var id = System.Text.RegularExpressions.Regex.Match(soFar[0], "^Started (exe_[0-9a-z]+) ").Groups[1].Value;
            Assert.Equal(["pending", "running"], soFar.Where(l => l is "pending" or "running" or "success"));
            Assert.Equal("running", (await shared.Admin.GetExecutionAsync(id)).Status);
            await File.WriteAllTextAsync(Path.Combine(shared.Server.DataDir + "-work", "executions", id, "go"), "");
            await process.WaitForExitAsync(timeout.Token);

            Assert.True(process.ExitCode == 0, await stderr);
            lock (lines)
            {
                Assert.Equal(["pending", "running", "success"], lines.Where(l => l is "pending" or "running" or "success"));
                var second = lines.IndexOf("  second line");
                Assert.True(second > lines.IndexOf("  first line from the agent") && second < lines.IndexOf("success"), string.Join('\n', lines));
                Assert.Equal($"Execution {id} succeeded.", lines[^1]);
            }
        }
        finally
        {
            BatonProcess.Kill(process);
        }
    }

    [Fact]
    public async Task Exec_run_watch_of_a_failing_worker_exits_8_and_an_unknown_worker_is_not_found()
    {
        var repository = await shared.Admin.CreateRepositoryAsync(new CreateRepositoryRequest("failing", GitRepository("failing")));
        var item = await WorkItemAsync(repository.RepositoryId);
        var worker = await ScriptWorkerAsync("echo 'cannot do it' >&2\nexit 3\n");

        var result = (await Baton("exec", "run", "--worker", worker.WorkerId, "--work-item", item.WorkItemId, "--prompt", "Try", "--watch", "--json")).ExitsWith(ExitCodes.RunUnsuccessful);
        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        var id = JsonDocument.Parse(lines[0]).RootElement.GetProperty("execution_id").GetString();
        var ended = JsonSerializer.Deserialize<ExecutionInfo>(lines[1], BatonJson.Options)!;
        Assert.Equal((id, "error"), (ended.Id, ended.Status));
        Assert.Contains("cannot do it", ended.ErrorMessage, StringComparison.Ordinal);

        var unknown = (await Baton("exec", "run", "--worker", "cli-no-such-worker", "--work-item", item.WorkItemId, "--prompt", "Try")).FailsWithOneLine(ExitCodes.NotFound);
        Assert.Contains("no worker 'cli-no-such-worker'", unknown, StringComparison.Ordinal);
    }
}
