using System.Security.Cryptography;
using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>The `baton run ...` commands as a script or a person uses them, against a real `baton up`.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class RunCommandsTests(SharedServer shared)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private Task<BatonResult> Baton(params string[] args) => shared.BatonAsync(args);

    /// <summary>A software_delivery run waiting at its design gate (created through the API: faster than a child process).</summary>
    private async Task<RunDetail> RunAtGateAsync(string project = "cli-tests")
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "# Dark mode\nFollow the OS theme.", project));
        return await WaitAsync(run.RunId, r => r.Status == "awaiting_approval");
    }

    private async Task<RunDetail> WaitAsync(string runId, Func<RunDetail, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var run = await shared.Admin.GetRunAsync(runId, timeout.Token);
        if (condition(run))
        {
            return run;
        }
        await foreach (var _ in shared.Admin.StreamRunEventsAsync(runId, ct: timeout.Token))
        {
            run = await shared.Admin.GetRunAsync(runId, timeout.Token);
            if (condition(run))
            {
                return run;
            }
        }
        run = await shared.Admin.GetRunAsync(runId, timeout.Token);
        Assert.True(condition(run), $"run {runId} is {run.Status}");
        return run;
    }

    [Fact]
    public async Task Create_json_prints_the_created_run()
    {
        var result = (await Baton("run", "create", "--profile", "planning_rail", "--intake", "Plan a billing service", "--project-name", "billing", "--json")).Succeeds();

        using var json = JsonDocument.Parse(result.Stdout);
        var run = json.RootElement;
        Assert.StartsWith("run_", run.GetProperty("run_id").GetString(), StringComparison.Ordinal);
        Assert.Equal("planning_rail", run.GetProperty("profile").GetString());
        Assert.Equal("billing", run.GetProperty("project_name").GetString());
        Assert.Equal("Plan a billing service", run.GetProperty("intake").GetString());
        Assert.Equal(JsonValueKind.Array, run.GetProperty("phases").ValueKind);
        Assert.True(run.GetProperty("version").GetInt64() >= 1);
        Assert.Single(result.Stdout.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Create_reads_the_intake_from_stdin_or_a_file()
    {
        var fromStdin = (await BatonProcess.RunWithInputAsync(shared.Folder, shared.Env, "# From a pipe\nLine two.\n", "run", "create", "-p", "planning_rail", "-", "--json")).Succeeds();
        var file = Path.Combine(shared.Folder, "prd.md");
        await File.WriteAllTextAsync(file, "# From a file\n");
        var fromFile = (await Baton("run", "create", "-p", "planning_rail", "--intake-file", file, "--json")).Succeeds();

        Assert.Equal("# From a pipe\nLine two.\n", JsonDocument.Parse(fromStdin.Stdout).RootElement.GetProperty("intake").GetString());
        Assert.Equal("# From a file\n", JsonDocument.Parse(fromFile.Stdout).RootElement.GetProperty("intake").GetString());
    }

    [Fact]
    public async Task Create_for_people_says_what_was_created_and_how_to_follow_it()
    {
        var result = (await Baton("run", "create", "-p", "planning_rail", "--intake", "x")).Succeeds();

        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Matches("^Created run_[0-9a-z]+ \\(planning_rail, auto mode\\): ", lines[0]);
        Assert.StartsWith("Follow it: baton run watch run_", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "run", "create", "-p", "planning_rail" }, "give the intake: --intake TEXT, --intake-file FILE, or -")]
    [InlineData(new[] { "run", "create", "-p", "planning_rail", "--intake", "a", "--intake-file", "b" }, "give the intake once")]
    [InlineData(new[] { "run", "create", "--intake", "x" }, "Option '--profile' is required")]
    [InlineData(new[] { "run", "create", "-p", "planning_rail", "--intake", "x", "--mode", "fast" }, "fast")]
    [InlineData(new[] { "run", "create", "-p", "planning_rail", "--intake", "x", "--budget", "lots" }, "--budget must be an amount of US dollars")]
    [InlineData(new[] { "run", "reject", "run_x" }, "Option '--feedback' is required")]
    [InlineData(new[] { "run", "show" }, "Required argument missing for command: 'show'")]
    [InlineData(new[] { "run", "list", "--all", "--limit", "5" }, "--all lists every run")]
    public async Task Usage_mistakes_exit_2_with_one_line_before_any_request(string[] args, string message)
    {
        // No server: the command must fail before connecting.
        var result = await BatonProcess.RunAsync(shared.Folder, new Dictionary<string, string> { ["BATON_URL"] = $"http://127.0.0.1:{BatonProcess.FreePort()}" }, args);

        var line = result.FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_the_server_refuses_exits_2_with_its_field_message()
    {
        var result = await Baton("run", "create", "-p", "no_such_profile", "--intake", "x");

        var line = result.FailsWithOneLine(ExitCodes.Usage);
        Assert.StartsWith("error: Invalid input (400): unknown profile 'no_such_profile'", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_intake_file_exits_3()
    {
        var line = (await Baton("run", "create", "-p", "planning_rail", "--intake-file", "nope.md")).FailsWithOneLine(ExitCodes.NotFound);

        Assert.Equal("error: --intake-file: no file nope.md", line);
    }

    [Theory]
    [InlineData("show")]
    [InlineData("approve")]
    [InlineData("watch")]
    [InlineData("logs")]
    [InlineData("artifacts")]
    [InlineData("metrics")]
    public async Task An_unknown_run_id_exits_3_with_one_line(string command)
    {
        var line = (await Baton("run", command, "run_does_not_exist")).FailsWithOneLine(ExitCodes.NotFound);

        Assert.Equal("error: Not found (404): no run 'run_does_not_exist'", line);
    }

    [Fact]
    public async Task Tool_approval_needs_one_decision_and_names_what_it_did_not_find()
    {
        var run = await RunAtGateAsync();
        foreach (var args in new[] { Array.Empty<string>(), ["--allow", "--deny"] })
        {
            var usage = (await Baton(["run", "tool-approval", run.RunId, "tap_x", .. args])).FailsWithOneLine(ExitCodes.Usage);
            Assert.Contains("give exactly one of --allow or --deny", usage, StringComparison.Ordinal);
        }
        var line = (await Baton("run", "tool-approval", run.RunId, "tap_does_not_exist", "--deny", "-m", "no")).FailsWithOneLine(ExitCodes.NotFound);
        Assert.Equal("error: Not found (404): no tool approval 'tap_does_not_exist'", line);
        Assert.Empty((await shared.Admin.GetRunAsync(run.RunId)).ToolApprovals!);
    }

    [Fact]
    public async Task Show_json_is_the_run_detail_and_show_for_people_has_phases_and_next_steps()
    {
        var run = await RunAtGateAsync();

        var json = (await Baton("run", "show", run.RunId, "--json")).Succeeds();
        var text = (await Baton("run", "show", run.RunId)).Succeeds();

        var detail = JsonSerializer.Deserialize<RunDetail>(json.Stdout, BatonJson.Options)!;
        Assert.Equal(run.RunId, detail.RunId);
        Assert.Equal("awaiting_approval", detail.Status);
        Assert.Equal(["discovery", "design", "implementation", "test", "document"], detail.Phases.Select(p => p.Name));
        Assert.Contains("discovery", detail.StepTimestamps.Keys);
        Assert.Contains("Status:    awaiting_approval at design (gate)", text.Stdout, StringComparison.Ordinal);
        Assert.Matches("design +1 +awaiting_approval .*gate open until", text.Stdout);
        Assert.Contains($"baton run approve {run.RunId} [--comment TEXT]", text.Stdout, StringComparison.Ordinal);
        Assert.Contains($"baton run reject {run.RunId} --feedback TEXT [--to PHASE]", text.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(" \n", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reject_then_approve_move_the_run_on_and_a_decision_on_a_finished_run_is_a_conflict()
    {
        var run = await RunAtGateAsync();

        var rejected = (await Baton("run", "reject", run.RunId, "--feedback", "Cover high contrast", "--to", "design", "--json")).Succeeds();
        Assert.Equal(2, JsonDocument.Parse(rejected.Stdout).RootElement.GetProperty("iteration").GetInt32());
        var again = await WaitAsync(run.RunId, r => r.Status == "awaiting_approval" && r.Iteration == 2);

        // A decision on the version seen before is refused once the run moved on.
        var stale = (await Baton("run", "approve", run.RunId, "--if-version", run.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))).FailsWithOneLine(ExitCodes.Conflict);
        Assert.StartsWith("error: Conflict (409): ", stale, StringComparison.Ordinal);

        var approved = (await Baton("run", "approve", run.RunId, "--comment", "Good now", "--if-version", again.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))).Succeeds();
        Assert.StartsWith($"Approved {run.RunId}: now ", approved.Stdout, StringComparison.Ordinal);
        await WaitAsync(run.RunId, r => r.Status == "completed");

        var late = (await Baton("run", "cancel", run.RunId)).FailsWithOneLine(ExitCodes.Conflict);
        Assert.EndsWith("(the run is completed)", late, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_and_inbox_say_which_groups_a_gate_still_needs()
    {
        var security = await shared.Admin.CreateKeyAsync(new CreateKeyRequest("cli-security-" + Guid.NewGuid().ToString("N")[..8], "approver", Groups: ["security"]));
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest(SharedServer.GroupProfile, "x"));
        await WaitAsync(run.RunId, r => r.Status == "awaiting_approval");
        await shared.Admin.ApproveAsync(run.RunId, new ApproveRequest("first place"));

        var watched = (await Baton("run", "watch", run.RunId)).Stdout;
        var inbox = (await shared.BatonAsync(new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = security.Token }, "inbox")).Succeeds().Stdout;

        Assert.Contains($"Run {run.RunId} awaits approval at change: 1 of 2 approvals, still needs 1 from security.", watched, StringComparison.Ordinal);
        var row = inbox.Split('\n').Single(l => l.Contains(run.RunId, StringComparison.Ordinal));
        Assert.Contains("1/2 (needs 1 from security)", row, StringComparison.Ordinal);
        await shared.Admin.CancelAsync(run.RunId);
    }

    [Fact]
    public async Task Approve_fills_the_gate_form_with_input_options_typed_as_the_form_says()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest(SharedServer.FormProfile, "x"));
        var waiting = await WaitAsync(run.RunId, r => r.Status == "awaiting_approval");

        var missing = (await Baton("run", "approve", run.RunId, "--input", "hours=3")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("ticket: required", missing, StringComparison.Ordinal);
        var notPair = (await Baton("run", "approve", run.RunId, "--input", "ticket")).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("--input 'ticket' is not field=value", notPair, StringComparison.Ordinal);

        Assert.Contains($"baton run approve {run.RunId} --input ticket=VALUE [--input hours=VALUE] [--comment TEXT]", (await Baton("run", "show", run.RunId)).Succeeds().Stdout, StringComparison.Ordinal);
        var inbox = JsonSerializer.Deserialize<Inbox>((await Baton("inbox", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        Assert.Contains(inbox.Items, i => i.RunId == run.RunId && i.Phase == "review");
        Assert.Contains(run.RunId, (await Baton("inbox")).Succeeds().Stdout, StringComparison.Ordinal);

        var approved = (await Baton("run", "approve", run.RunId, "--input", "ticket=CHG-9", "--input", "hours=3", "--digest", waiting.Gate!.Digest)).Succeeds();
        Assert.StartsWith($"Approved {run.RunId}: now ", approved.Stdout, StringComparison.Ordinal);
        await WaitAsync(run.RunId, r => r.Status == "completed");
        Assert.Equal("ticket=CHG-9 hours=3", await shared.Admin.GetArtifactAsync(run.RunId, "ship.md"));
    }

    [Fact]
    public async Task List_json_has_the_api_shape_and_all_pages_through_everything()
    {
        const string project = "list-all-project";
        for (var i = 0; i < 3; i++)
        {
            await shared.Admin.CreateRunAsync(new CreateRunRequest("planning_rail", $"run {i}", project));
        }

        var page = (await Baton("run", "list", "--project", project, "--limit", "2", "--json")).Succeeds();
        var all = (await Baton("run", "list", "--project", project, "--all", "--json")).Succeeds();
        var table = (await Baton("run", "list", "--project", project, "--limit", "2")).Succeeds();

        var first = JsonSerializer.Deserialize<RunList>(page.Stdout, BatonJson.Options)!;
        Assert.Equal((2, 3L, 2, 0), (first.Runs.Count, first.Total, first.Limit, first.Offset));
        var every = JsonSerializer.Deserialize<RunList>(all.Stdout, BatonJson.Options)!;
        Assert.Equal(3, every.Runs.Count);
        Assert.All(every.Runs, r => Assert.Equal(project, r.ProjectName));
        Assert.StartsWith("RUN ID", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("Runs 1-2 of 3; next page: --offset 2", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_artifacts_and_metrics_print_tables_or_json()
    {
        var run = await RunAtGateAsync();

        var logs = JsonSerializer.Deserialize<RunLogs>((await Baton("run", "logs", run.RunId, "--lines", "1", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var logText = (await Baton("run", "logs", run.RunId)).Succeeds().Stdout;
        var manifest = JsonSerializer.Deserialize<ArtifactManifest>((await Baton("run", "artifacts", run.RunId, "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var artifactTable = (await Baton("run", "artifacts", run.RunId)).Succeeds().Stdout;
        var metrics = JsonSerializer.Deserialize<RunMetrics>((await Baton("run", "metrics", run.RunId, "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var metricText = (await Baton("run", "metrics", run.RunId)).Succeeds().Stdout;

        Assert.Single(logs.Lines);
        Assert.Contains("rendered prd.md", logText, StringComparison.Ordinal);
        Assert.Equal(["prd.md", "tech_spec.md"], manifest.Phases.SelectMany(g => g.Artifacts).Select(a => a.Name));
        Assert.Matches("discovery +1 +prd\\.md", artifactTable);
        Assert.Equal(2, metrics.Executions);
        Assert.Contains("Executions:  2, 0 tool calls", metricText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_of_a_run_whose_cost_nobody_knows_say_unknown_not_zero()
    {
        // A Codex-style worker without prices (ADR 28): its tokens are counted, their cost is unknown.
        var name = "unpriced-" + Guid.NewGuid().ToString("N")[..8];
        var turn = "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":20}}";
        await shared.Admin.CreateWorkerAsync(new CreateWorkerRequest(name, "command", ["sh", "-c", $"echo '{turn}'"], Usage: "codex"));
        Directory.CreateDirectory(Path.Combine(shared.Server.DataDir, "profiles"));
        File.WriteAllText(Path.Combine(shared.Server.DataDir, "profiles", name + ".yaml"), $"name: {name}\nphases:\n  - name: implement\n    worker: {name}\n    max_attempts: 1\n");
        var run = await WaitAsync((await shared.Admin.CreateRunAsync(new CreateRunRequest(name, "Count only."))).RunId, r => r.Status is "completed" or "failed");
        Assert.True(run.Status == "completed", run.Error);

        var metrics = JsonSerializer.Deserialize<RunMetrics>((await Baton("run", "metrics", run.RunId, "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var text = (await Baton("run", "metrics", run.RunId)).Succeeds().Stdout;

        Assert.Equal((120L, true, true), (metrics.TokensUsed, metrics.CostUnknown, metrics.Phases.Single().CostUnknown));
        Assert.Contains("Cost:        unknown cost", text, StringComparison.Ordinal);
        Assert.DoesNotContain("$0.00", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_follow_prints_until_the_run_finishes()
    {
        var run = await RunAtGateAsync();
        var follow = Baton("run", "logs", run.RunId, "--follow", "--lines", "1");

        await shared.Admin.ApproveAsync(run.RunId);
        var result = (await follow).Succeeds();

        // Whether the approval came before the first read or after, the lines up to the run's end are printed.
        Assert.Contains("rendered documentation.md", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("rendered prd.md", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Artifacts_download_saves_the_newest_version_of_each()
    {
        var run = await RunAtGateAsync();
        var dir = Path.Combine(shared.Folder, "download-" + run.RunId);

        (await Baton("run", "artifacts", run.RunId, "--download", dir)).Succeeds();

        Assert.Equal(["prd.md", "tech_spec.md"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(await shared.Admin.GetArtifactAsync(run.RunId, "tech_spec.md"), await File.ReadAllTextAsync(Path.Combine(dir, "tech_spec.md")));
    }

    [Fact]
    public async Task Export_writes_run_json_every_artifact_version_and_an_index()
    {
        var run = await RunAtGateAsync();
        await shared.Admin.RejectAsync(run.RunId, "Again, with contrast");
        await WaitAsync(run.RunId, r => r.Status == "awaiting_approval" && r.Iteration == 2);
        var dir = Path.Combine(shared.Folder, "export-" + run.RunId);

        var result = (await Baton("run", "export", run.RunId, dir)).Succeeds();

        Assert.Contains("3 artifact version(s)", result.Stdout, StringComparison.Ordinal);
        var detail = JsonSerializer.Deserialize<RunDetail>(await File.ReadAllTextAsync(Path.Combine(dir, "run.json")), BatonJson.Options)!;
        Assert.Equal(run.RunId, detail.RunId);
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "index.json")));
        Assert.Equal("baton-run-export/1", index.RootElement.GetProperty("format").GetString());
        Assert.Equal("run.json", index.RootElement.GetProperty("run").GetString());
        var artifacts = index.RootElement.GetProperty("artifacts").EnumerateArray().ToList();
        Assert.Equal(["artifacts/1/prd.md", "artifacts/1/tech_spec.md", "artifacts/2/tech_spec.md"], artifacts.Select(a => a.GetProperty("path").GetString()).Order(StringComparer.Ordinal));
        foreach (var artifact in artifacts)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(dir, artifact.GetProperty("path").GetString()!));
            Assert.Equal(artifact.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        // A folder with files in it is not overwritten by accident.
        var again = (await Baton("run", "export", run.RunId, dir)).FailsWithOneLine(ExitCodes.Usage);
        Assert.Contains("is not empty", again, StringComparison.Ordinal);
        (await Baton("run", "export", run.RunId, dir, "--force")).Succeeds();
    }

    [Fact]
    public async Task Export_never_writes_through_a_symbolic_link_in_the_target_folder()
    {
        var run = await RunAtGateAsync();
        var elsewhere = Path.Combine(shared.Folder, "elsewhere-" + run.RunId);
        Directory.CreateDirectory(elsewhere);
        var victim = Path.Combine(elsewhere, "victim.txt");
        await File.WriteAllTextAsync(victim, "keep me");

        // A linked folder inside the target: nothing lands in the folder it points to.
        var linkedFolder = Path.Combine(shared.Folder, "linked-folder-" + run.RunId);
        Directory.CreateDirectory(linkedFolder);
        Directory.CreateSymbolicLink(Path.Combine(linkedFolder, "artifacts"), elsewhere);
        var failed = (await Baton("run", "export", run.RunId, linkedFolder, "--force")).FailsWithOneLine(ExitCodes.Failure);
        Assert.Contains("symbolic link", failed, StringComparison.Ordinal);
        Assert.Equal([victim], Directory.GetFileSystemEntries(elsewhere));

        // A linked file in the target: it is not written through.
        var linkedFile = Path.Combine(shared.Folder, "linked-file-" + run.RunId);
        Directory.CreateDirectory(linkedFile);
        File.CreateSymbolicLink(Path.Combine(linkedFile, "run.json"), victim);
        failed = (await Baton("run", "export", run.RunId, linkedFile, "--force")).FailsWithOneLine(ExitCodes.Failure);
        Assert.Contains("symbolic link", failed, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(victim));
    }

    [Fact]
    public async Task A_download_onto_a_folder_of_the_artifacts_name_says_so_in_one_line()
    {
        var run = await RunAtGateAsync();
        var target = Path.Combine(shared.Folder, "in-the-way-" + run.RunId);
        Directory.CreateDirectory(Path.Combine(target, "prd.md"));
        var failed = (await Baton("run", "artifacts", run.RunId, "--download", target)).FailsWithOneLine(ExitCodes.Failure);
        Assert.Contains("a folder of that name is in the way", failed, StringComparison.Ordinal);
    }
}
