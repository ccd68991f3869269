using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Mcp;

/// <summary>
/// `baton mcp` as an MCP client starts it: a child process spoken to in JSON-RPC over stdin/stdout. Every line it
/// writes to stdout must be a protocol message.
/// </summary>
[Collection(SharedServerCollection.Name)]
public sealed class McpServerTests(SharedServer shared)
{
    [Fact]
    public async Task Lists_its_tools_and_creates_and_approves_a_run_through_the_protocol()
    {
        await using var mcp = await McpSession.StartAsync(shared.Folder, shared.Env);

        var tools = await mcp.RequestAsync("tools/list", new JsonObject());
        var names = tools["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ToList();
        Assert.Superset(
            new HashSet<string> { "list_runs", "show_run", "create_run", "approve_run", "reject_run", "cancel_run", "read_artifact", "tail_logs" },
            names.ToHashSet());
        var create = tools["tools"]!.AsArray().Single(t => t!["name"]!.GetValue<string>() == "create_run")!;
        Assert.Equal(["profile", "intake"], create["inputSchema"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));

        var created = await mcp.CallToolAsync("create_run", new JsonObject { ["profile"] = "software_delivery", ["intake"] = "# Dark mode\nFollow the OS.", ["project_name"] = "mcp" });
        var run = JsonSerializer.Deserialize<RunDetail>(created, BatonJson.Options)!;
        Assert.Equal(("software_delivery", "mcp"), (run.Profile, run.ProjectName));
        await WaitForGateAsync(run.RunId);

        var approved = JsonSerializer.Deserialize<RunDetail>(
            await mcp.CallToolAsync("approve_run", new JsonObject { ["run_id"] = run.RunId, ["comment"] = "approved by an assistant" }), BatonJson.Options)!;
        Assert.NotEqual("awaiting_approval", approved.Status);

        var spec = await mcp.CallToolAsync("read_artifact", new JsonObject { ["run_id"] = run.RunId, ["name"] = "tech_spec.md" });
        Assert.Equal(await shared.Admin.GetArtifactAsync(run.RunId, "tech_spec.md"), spec);
        var logs = JsonSerializer.Deserialize<RunLogs>(await mcp.CallToolAsync("tail_logs", new JsonObject { ["run_id"] = run.RunId, ["lines"] = 2 }), BatonJson.Options)!;
        Assert.Equal(2, logs.Lines.Count);
        var list = JsonSerializer.Deserialize<RunList>(await mcp.CallToolAsync("list_runs", new JsonObject { ["limit"] = 200 }), BatonJson.Options)!;
        Assert.Contains(list.Runs, r => r.RunId == run.RunId);

        var missing = await mcp.CallToolAsync("show_run", new JsonObject { ["run_id"] = "run_nope" }, expectError: true);
        Assert.Equal("Not found (404): no run 'run_nope'", missing);
        Assert.Equal("", mcp.Stderr);
    }

    [Fact]
    public async Task For_an_execution_it_serves_only_approve_tool_and_no_answer_is_a_denial()
    {
        // As Baton starts it for a phase's tool_approvals: the execution's key, not an API key (here one that is not
        // the execution's, so the server refuses it and the tool must refuse the use).
        var env = new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = "bex_not-this-executions-key" };
        await using var mcp = await McpSession.StartAsync(shared.Folder, env, "--execution", "exe_nope");

        var tools = (await mcp.RequestAsync("tools/list", new JsonObject()))["tools"]!.AsArray();
        var tool = Assert.Single(tools)!;
        Assert.Equal("approve_tool", tool["name"]!.GetValue<string>());
        Assert.Equal(["tool_name", "input"], tool["inputSchema"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));

        var answer = JsonNode.Parse(await mcp.CallToolAsync("approve_tool",
            new JsonObject { ["tool_name"] = "Bash", ["input"] = new JsonObject { ["command"] = "ls" }, ["tool_use_id"] = "toolu_1" }))!;
        Assert.Equal("deny", answer["behavior"]!.GetValue<string>());
        Assert.Contains("Baton could not get a decision: Unauthorized (401)", answer["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approve_run_takes_the_gate_form_and_its_digest()
    {
        await using var mcp = await McpSession.StartAsync(shared.Folder, shared.Env);
        var created = await mcp.CallToolAsync("create_run", new JsonObject { ["profile"] = SharedServer.FormProfile, ["intake"] = "x" });
        var run = JsonSerializer.Deserialize<RunDetail>(created, BatonJson.Options)!;
        await WaitForGateAsync(run.RunId);
        var digest = (await shared.Admin.GetRunAsync(run.RunId)).Gate!.Digest;
        var inbox = JsonSerializer.Deserialize<Inbox>(await mcp.CallToolAsync("list_inbox", new JsonObject()), BatonJson.Options)!;
        Assert.Contains(inbox.Items, i => i.RunId == run.RunId && i.Kind == "gate" && i.Phase == "review");

        var missing = await mcp.CallToolAsync("approve_run", new JsonObject { ["run_id"] = run.RunId, ["inputs"] = new JsonObject { ["hours"] = 2 } }, expectError: true);
        Assert.Contains("ticket: required", missing, StringComparison.Ordinal);
        var stale = await mcp.CallToolAsync("approve_run", new JsonObject { ["run_id"] = run.RunId, ["digest"] = "sha256:0", ["inputs"] = new JsonObject { ["ticket"] = "CHG-1" } }, expectError: true);
        Assert.Contains("Conflict (409)", stale, StringComparison.Ordinal);

        await mcp.CallToolAsync("approve_run", new JsonObject
        {
            ["run_id"] = run.RunId,
            ["digest"] = digest,
            ["inputs"] = new JsonObject { ["ticket"] = "CHG-5", ["hours"] = 2 },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in shared.Admin.StreamRunEventsAsync(run.RunId, ct: timeout.Token))
        {
            if (e.Type == "run.completed")
            {
                break;
            }
        }
        Assert.Equal("ticket=CHG-5 hours=2", await shared.Admin.GetArtifactAsync(run.RunId, "ship.md"));
    }

    [Fact]
    public async Task Decision_tools_are_marked_destructive_and_read_tools_read_only()
    {
        await using var mcp = await McpSession.StartAsync(shared.Folder, shared.Env);

        var tools = (await mcp.RequestAsync("tools/list", new JsonObject()))["tools"]!.AsArray()
            .ToDictionary(t => t!["name"]!.GetValue<string>(), t => t!["annotations"]);
        bool? Hint(string tool, string hint) => tools[tool]?[hint]?.GetValue<bool>();

        // An assistant's client asks a person before a destructive call: approving, rejecting and cancelling change
        // what a run does next, and none of them can be undone.
        foreach (var decision in new[] { "approve_run", "reject_run", "cancel_run", "retry_run" })
        {
            Assert.True(Hint(decision, "destructiveHint") == true, $"{decision} is not marked destructive");
            Assert.True(Hint(decision, "readOnlyHint") == false, $"{decision} is not marked as writing");
        }
        foreach (var read in new[] { "list_runs", "show_run", "list_profiles", "list_artifacts", "read_artifact", "tail_logs" })
        {
            Assert.True(Hint(read, "readOnlyHint") == true, $"{read} is not marked read-only");
        }
    }

    [Fact]
    public async Task Retries_a_cancelled_run_and_forks_it_at_a_phase()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "# Retry me", "mcp-retry"));
        await WaitForGateAsync(run.RunId);
        await using var mcp = await McpSession.StartAsync(shared.Folder, shared.Env);
        await mcp.CallToolAsync("cancel_run", new JsonObject { ["run_id"] = run.RunId, ["reason"] = "try again" });

        var unknownPhase = await mcp.CallToolAsync("retry_run", new JsonObject { ["run_id"] = run.RunId, ["from_phase"] = "nosuch" }, expectError: true);
        var retried = JsonSerializer.Deserialize<RunDetail>(
            await mcp.CallToolAsync("retry_run", new JsonObject { ["run_id"] = run.RunId, ["from_phase"] = "discovery" }), BatonJson.Options)!;
        var again = await mcp.CallToolAsync("retry_run", new JsonObject { ["run_id"] = run.RunId }, expectError: true);
        var forked = JsonSerializer.Deserialize<RunDetail>(
            await mcp.CallToolAsync("fork_run", new JsonObject { ["run_id"] = run.RunId, ["at_phase"] = "discovery", ["intake"] = "# Forked" }), BatonJson.Options)!;
        var forkNowhere = await mcp.CallToolAsync("fork_run", new JsonObject { ["run_id"] = run.RunId, ["at_phase"] = "nosuch" }, expectError: true);

        Assert.Contains("(400): ", unknownPhase, StringComparison.Ordinal);
        Assert.Contains("'nosuch'", unknownPhase, StringComparison.Ordinal);
        Assert.NotEqual("cancelled", retried.Status);
        Assert.Contains("(409): ", again, StringComparison.Ordinal);
        Assert.Equal((run.RunId, "discovery"), (forked.ParentRunId, forked.ForkedAtPhase));
        Assert.Equal("# Forked", (await shared.Admin.GetRunAsync(forked.RunId)).Intake);
        Assert.Contains("(400): ", forkNowhere, StringComparison.Ordinal);
        Assert.Equal("", mcp.Stderr);
    }

    [Fact]
    public async Task Has_the_roles_of_its_key_a_refusal_is_a_tool_error()
    {
        var viewer = await shared.Admin.CreateKeyAsync(new CreateKeyRequest("mcp-viewer-" + Guid.NewGuid().ToString("N")[..8], "viewer"));
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", "x"));
        await WaitForGateAsync(run.RunId);
        await using var mcp = await McpSession.StartAsync(shared.Folder, new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = viewer.Token });

        var shown = JsonSerializer.Deserialize<RunDetail>(await mcp.CallToolAsync("show_run", new JsonObject { ["run_id"] = run.RunId }), BatonJson.Options)!;
        var refused = await mcp.CallToolAsync("reject_run", new JsonObject { ["run_id"] = run.RunId, ["feedback"] = "no" }, expectError: true);
        var cancel = await mcp.CallToolAsync("cancel_run", new JsonObject { ["run_id"] = run.RunId }, expectError: true);

        Assert.Equal("awaiting_approval", shown.Status);
        Assert.StartsWith("Forbidden (403)", refused, StringComparison.Ordinal);
        Assert.StartsWith("Forbidden (403)", cancel, StringComparison.Ordinal);
        Assert.Equal("awaiting_approval", (await shared.Admin.GetRunAsync(run.RunId)).Status);
    }

    private async Task WaitForGateAsync(string runId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((await shared.Admin.GetRunAsync(runId, timeout.Token)).Status != "awaiting_approval")
        {
            await foreach (var e in shared.Admin.StreamRunEventsAsync(runId, ct: timeout.Token))
            {
                if (e.Type == "gate.opened")
                {
                    break;
                }
            }
        }
    }

    /// <summary>A minimal MCP client over a child process's stdio: newline-delimited JSON-RPC.</summary>
    private sealed class McpSession : IAsyncDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
        private readonly Process _process;
        private readonly System.Text.StringBuilder _stderr = new();
        private int _nextId;

        private McpSession(Process process)
        {
            _process = process;
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        public static async Task<McpSession> StartAsync(string folder, IReadOnlyDictionary<string, string> env, params string[] options)
        {
            var info = BatonProcess.StartInfo(folder, env, ["mcp", .. options]);
            info.RedirectStandardInput = true;
            var process = Process.Start(info)!;
            var session = new McpSession(process);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (session._stderr)
                    {
                        session._stderr.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();
            var init = await session.RequestAsync("initialize", new JsonObject
            {
                ["protocolVersion"] = "2025-06-18",
                ["capabilities"] = new JsonObject(),
                ["clientInfo"] = new JsonObject { ["name"] = "baton-tests", ["version"] = "1" },
            });
            Assert.Equal("baton", init["serverInfo"]!["name"]!.GetValue<string>());
            await session.SendAsync(new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" });
            return session;
        }

        public async Task<JsonNode> RequestAsync(string method, JsonObject parameters)
        {
            var id = ++_nextId;
            await SendAsync(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters });
            using var timeout = new CancellationTokenSource(Timeout);
            while (true)
            {
                var line = await _process.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new InvalidOperationException($"baton mcp closed its stdout; stderr:\n{Stderr}");
                // Anything on stdout that is not JSON-RPC would break every MCP client.
                var message = JsonNode.Parse(line)!.AsObject();
                Assert.Equal("2.0", message["jsonrpc"]!.GetValue<string>());
                if (message["id"]?.GetValue<int>() != id)
                {
                    continue;
                }
                Assert.True(message["error"] is null, $"{method} failed: {message["error"]?.ToJsonString()}");
                return message["result"]!;
            }
        }

        /// <summary>Calls a tool and returns its text, checking whether it reported an error.</summary>
        public async Task<string> CallToolAsync(string name, JsonObject arguments, bool expectError = false)
        {
            var result = await RequestAsync("tools/call", new JsonObject { ["name"] = name, ["arguments"] = arguments });
            var text = result["content"]![0]!["text"]!.GetValue<string>();
            Assert.True((result["isError"]?.GetValue<bool>() ?? false) == expectError, $"{name}: {text}");
            return text;
        }

        public async Task SendAsync(JsonObject message)
        {
            await _process.StandardInput.WriteLineAsync(message.ToJsonString());
            await _process.StandardInput.FlushAsync();
        }

        public async ValueTask DisposeAsync()
        {
            // Closing stdin is how MCP clients end a stdio session; the server must exit on its own.
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                Assert.Equal(0, _process.ExitCode);
            }
            finally
            {
                BatonProcess.Kill(_process);
                _process.Dispose();
            }
        }
    }
}
