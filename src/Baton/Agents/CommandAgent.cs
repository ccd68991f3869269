using System.Text.RegularExpressions;

namespace Baton.Agents;

/// <summary>
/// Runs a real program (claude, codex, aider, a script) in the workspace, inside the sandbox: argv from a template,
/// no shell, an explicit environment, output streamed into the log, usage read from stdout, artifacts collected
/// from files it wrote.
/// </summary>
public sealed partial class CommandAgent(WorkerConfig config, Func<string, string?> readEnvironment, Sandbox sandbox, OutputLimits limits) : IAgent
{
    /// <summary>The most an artifact file may hold; a bigger one fails the execution instead of being read.</summary>
    public const long MaxArtifactBytes = 10 * 1024 * 1024;

    /// <summary>
    /// Lines of an agent are kept up to 1 MiB (the log stores 8 KiB of each), so Claude Code's one-line JSON result,
    /// which carries the whole answer, still reaches the usage parser.
    /// </summary>
    private const int MaxLineBytes = 1024 * 1024;

    public async Task<AgentOutcome> RunAsync(AgentRequest request, CancellationToken ct)
    {
        var argv = config.Argv ?? throw new AgentFailedException("the worker has no argv");
        Directory.CreateDirectory(request.ArtifactsDirectory);
        var executionDirectory = Path.GetDirectoryName(request.ArtifactsDirectory)!;
        var promptFile = Path.Combine(executionDirectory, "prompt.md");
        await File.WriteAllTextAsync(promptFile, request.Prompt, ct);

        var values = new Dictionary<string, string>
        {
            ["prompt"] = request.Prompt,
            ["prompt_file"] = promptFile,
            ["workspace"] = request.WorkingDirectory,
            ["artifacts_dir"] = request.ArtifactsDirectory,
            ["phase"] = request.Phase ?? "",
            ["run_id"] = request.OwnerId,
            ["iteration"] = request.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["home"] = Sandbox.HomeOf(executionDirectory),
            ["temp_dir"] = Sandbox.TempOf(executionDirectory),
        };
        // Each argument is rendered on its own and passed as one argv entry: a prompt holding `; rm -rf /` or
        // `$(...)` stays a literal argument, because no shell ever sees it. One pass: a prompt that contains
        // "{{workspace}}" keeps it as text.
        string Render(string template) => Placeholder().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        var rendered = argv.Select(Render).ToList();
        if (request.Approvals is { } approvals)
        {
            rendered.InsertRange(1, await ApprovalArgumentsAsync(approvals, executionDirectory, ct));
            await request.Log("info", $"tool_approvals: {string.Join(", ", approvals.Tools)} wait for a human (via {ApprovalTool})");
        }

        var env = ProcessRunner.BaseEnvironment();
        foreach (var (name, value) in config.Env ?? new Dictionary<string, string>())
        {
            // A value may name the execution's private folders: CLAUDE_CODE_TMPDIR: "{{temp_dir}}".
            env[name] = Render(value);
        }
        foreach (var (name, source) in config.PassEnv ?? new Dictionary<string, string>())
        {
            if (readEnvironment(source) is { Length: > 0 } value)
            {
                env[name] = value;
            }
        }
        foreach (var (name, source) in config.SecretEnv ?? new Dictionary<string, string>())
        {
            if (readEnvironment(source) is not { Length: > 0 } secret)
            {
                throw new AgentFailedException($"environment variable {source} (secret_env for {name}) is not set on the Baton server");
            }
            // Redacted from now on (ADR 40), before the program can print it.
            Ops.Redactor.Process.Add(secret);
            env[name] = secret;
        }
        env["BATON_RUN_ID"] = request.OwnerId;
        env["BATON_PHASE"] = request.Phase ?? "";
        env["BATON_ITERATION"] = values["iteration"];
        env["BATON_WORKSPACE"] = request.WorkingDirectory;
        env["BATON_ARTIFACTS_DIR"] = request.ArtifactsDirectory;
        env["BATON_PROMPT_FILE"] = promptFile;

        if (config.Codex is { } codex)
        {
            env["CODEX_HOME"] = await CodexHome.WriteAsync(codex, Sandbox.HomeOf(executionDirectory), readEnvironment, ct);
        }

        var usage = new UsageParser(config.Usage, TokenPrices.Of(config));
        var stderrTail = new Queue<string>();
        var spec = await sandbox.WrapAsync(new ProcessSpec(rendered[0], rendered.Skip(1).ToList(), request.WorkingDirectory, env),
            new SandboxLayout(request.WorkingDirectory, executionDirectory, request.Git, config.Network ?? true));
        var exitCode = await ProcessRunner.RunAsync(
            spec,
            async (stream, line) =>
            {
                if (stream == "stdout")
                {
                    usage.Observe(line);
                }
                else if (line.Trim().Length > 0)
                {
                    lock (stderrTail)
                    {
                        stderrTail.Enqueue(line.TrimEnd());
                        if (stderrTail.Count > StderrTailLines)
                        {
                            stderrTail.Dequeue();
                        }
                    }
                }
                await request.Log(stream == "stderr" ? "warn" : "info", line);
            },
            ct,
            request.OnProcessStarted,
            limits with { MaxLineBytes = MaxLineBytes },
            (stream, line) =>
            {
                if (stream == "stdout")
                {
                    usage.Observe(line);
                }
            });
        if (exitCode != 0)
        {
            // The program's own words first (Claude's is_error result, Codex's turn.failed), else what it last said on stderr.
            var why = usage.Error ?? (stderrTail.Count == 0 ? null : Tail(string.Join('\n', stderrTail)));
            throw new AgentFailedException($"{Path.GetFileName(rendered[0])} exited with code {exitCode}" + (why is null ? "" : $": {why}"), usage.Usage);
        }

        var artifacts = new List<ProducedArtifact>();
        foreach (var name in request.Produces)
        {
            // An agent may write an artifact beside the code (committed with it) or into BATON_ARTIFACTS_DIR (not
            // committed). Either place is the agent's, or the repository's: read without following links.
            var folder = new[] { request.ArtifactsDirectory, request.WorkingDirectory }.FirstOrDefault(f => SafeFiles.Exists(Path.Combine(f, name)));
            if (folder is not null)
            {
                artifacts.Add(new ProducedArtifact(name, await SafeFiles.ReadTextAsync(folder, name, MaxArtifactBytes, ct)));
            }
        }
        return new AgentOutcome(artifacts, usage.Summary ?? usage.LastLine, usage.Usage);
    }

    /// <summary>The MCP tool Claude Code asks before using a tool that needs permission (ADR 31).</summary>
    public const string ApprovalTool = "mcp__baton__approve_tool";

    /// <summary>
    /// Claude Code's options for tool approvals: its permission prompts go to `baton mcp`'s approve_tool, started from
    /// an MCP config in the execution's folder (not the workspace: it holds the execution's key, which is not committed).
    /// Only Claude Code asks a tool for permission; another program would run its tools unasked, so it is refused.
    /// </summary>
    private async Task<string[]> ApprovalArgumentsAsync(ApprovalChannel approvals, string executionDirectory, CancellationToken ct)
    {
        if (config.Usage != "claude")
        {
            throw new AgentFailedException(
                $"the phase lists tool_approvals ({string.Join(", ", approvals.Tools)}), which only Claude Code workers (usage: claude) support: this worker would use them unasked");
        }
        var env = new Dictionary<string, string> { ["BATON_URL"] = approvals.Url, ["BATON_TOKEN"] = approvals.Key };
        if (approvals.DotnetRoot is { } root)
        {
            env["DOTNET_ROOT"] = root;
        }
        var server = new Dictionary<string, object>
        {
            ["type"] = "stdio",
            ["command"] = approvals.Command,
            ["args"] = approvals.Args,
            ["env"] = env,
            // A human may take hours; the phase's and worker's timeouts bound the wait, not Claude Code's tool timeout.
            ["timeout"] = McpToolTimeoutMs,
        };
        var mcp = Path.Combine(executionDirectory, "baton-mcp.json");
        await File.WriteAllTextAsync(mcp, System.Text.Json.JsonSerializer.Serialize(
            new Dictionary<string, object> { ["mcpServers"] = new Dictionary<string, object> { ["baton"] = server } }), ct);
        // "ask" rules: the listed tools always ask, even where the permission mode would let them run unasked
        // (acceptEdits lets `echo x > file` through Bash without a prompt).
        var settings = Path.Combine(executionDirectory, "baton-settings.json");
        await File.WriteAllTextAsync(settings, System.Text.Json.JsonSerializer.Serialize(
            new Dictionary<string, object> { ["permissions"] = new Dictionary<string, object> { ["ask"] = approvals.Tools } }), ct);
        return ["--mcp-config", mcp, "--settings", settings, "--permission-prompt-tool", ApprovalTool];
    }

    private const int McpToolTimeoutMs = 7 * 24 * 60 * 60 * 1000;

    /// <summary>How many of the last stderr lines a failure's message carries (at most <see cref="MaxErrorChars"/>).</summary>
    private const int StderrTailLines = 10;

    private const int MaxErrorChars = 2000;

    private static string Tail(string text) => text.Length <= MaxErrorChars ? text : "…" + text[^MaxErrorChars..];

    [GeneratedRegex(@"\{\{([a-z_]+)\}\}")]
    private static partial Regex Placeholder();
}
