using System.CommandLine;
using Baton.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton demo`: a sample git repository with a real test suite, a bundled command-line agent that edits its code,
/// and a run that takes it from intake to tested, documented code — workspaces, diffs and test results without
/// any model or key. The server keeps running afterwards so the run can be explored.
/// </summary>
public sealed class DemoCommand : BatonCommand
{
    private readonly Option<string> _dir = new("--dir")
    {
        Description = "Where the sample repository and Baton's data go",
        HelpName = "dir",
        DefaultValueFactory = _ => "baton-demo",
    };

    private readonly Option<string> _urls = new("--urls")
    {
        Description = "Where to listen",
        HelpName = "url",
        DefaultValueFactory = _ => Connection.DefaultUrl,
    };

    private readonly Option<bool> _exit = new("--exit")
    {
        Description = "Stop the server when the run has finished instead of keeping it up",
    };

    public DemoCommand()
        : base("demo", "Run a sample delivery with a real agent, workspace and test suite (no model or key needed).",
            "baton demo",
            "baton demo --dir /tmp/baton-demo --exit")
    {
        Options.Add(_dir);
        Options.Add(_urls);
        Options.Add(_exit);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var output = parseResult.InvocationConfiguration.Output;
        var dir = Path.GetFullPath(parseResult.GetValue(_dir)!);
        var project = await DemoProject.CreateAsync(dir, cancellationToken);
        output.WriteLine($"Sample repository: {Shell.Path(project.Repository)} (a Python module whose slugify() is not written yet)");

        var settings = new ServerSettings(parseResult.GetValue(_urls), project.DataDir, Role: "all", LocalAdminKey: true, Terse: true);
        var app = await StartAsync(settings, output, cancellationToken);
        try
        {
            var url = ServerHost.ClientUrl(app);
            var token = LocalAdminToken.ReadOrCreate(app.Services.GetRequiredService<BatonOptions>().LocalAdminTokenPath);
            var client = BatonClient.Create(new Uri(url + "/"), token);
            output.WriteLine($"Baton is up at {url}; admin key in {Shell.Path(Path.Combine(project.DataDir, BatonOptions.LocalAdminTokenFile))}");

            var worker = (await client.ListWorkersAsync(cancellationToken)).Workers.FirstOrDefault(w => w.Name == DemoProject.WorkerName)
                ?? await client.CreateWorkerAsync(new CreateWorkerRequest(DemoProject.WorkerName, "command", [project.AgentScript, "{{prompt_file}}"]), cancellationToken);
            var repository = (await client.ListRepositoriesAsync(cancellationToken)).Repositories.FirstOrDefault(r => r.Url == project.Repository)
                ?? await client.CreateRepositoryAsync(new CreateRepositoryRequest("textutil", project.Repository), cancellationToken);
            var run = await client.CreateRunAsync(new CreateRunRequest(DemoProject.ProfileName, DemoProject.Intake, "textutil", RepositoryId: repository.RepositoryId), ct: cancellationToken);
            output.WriteLine($"Run {run.RunId} ({DemoProject.ProfileName}); worker {worker.Name} runs `{string.Join(' ', worker.Argv ?? [])}`");
            output.WriteLine();

            var final = await FollowAsync(client, run.RunId, output, cancellationToken);
            output.WriteLine();
            if (final.Status != "completed")
            {
                throw new CliException($"the demo run ended {final.Status}: {final.Error}");
            }
            var metrics = await client.GetMetricsAsync(run.RunId, cancellationToken);
            output.WriteLine($"Done: {metrics.TestsPassed}/{metrics.TestsRun} tests passed; {final.Phases.Count} phases, each one commit on branch baton/{run.RunId}.");
            output.WriteLine();
            output.WriteLine("Look around:");
            output.WriteLine($"  git -C {Shell.Quote(project.Repository)} log --oneline main..baton/{run.RunId}");
            output.WriteLine($"  curl -H \"Authorization: Bearer $(cat {Shell.Quote(Path.Combine(project.DataDir, BatonOptions.LocalAdminTokenFile))})\" {url}/api/runs/{run.RunId}/artifacts/implementation.diff.patch");
            output.WriteLine($"  BATON_URL={url} BATON_DATA_DIR={Shell.Quote(project.DataDir)} baton run list");
            if (parseResult.GetValue(_exit))
            {
                return ExitCodes.Ok;
            }
            output.WriteLine("Baton keeps running so you can explore; press Ctrl+C to stop.");
            await app.WaitForShutdownAsync(cancellationToken);
            return ExitCodes.Ok;
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// Starts the demo's own server; where its address is taken (most often by `baton up` on the same default port)
    /// on a free port of the same host instead, saying so. The demo never uses the server already there: that one has
    /// its own data dir, without the demo's profile, and a repository root that need not hold the demo's repository
    /// (ADR 29).
    /// </summary>
    private static async Task<WebApplication> StartAsync(ServerSettings settings, TextWriter output, CancellationToken ct)
    {
        var app = ServerHost.Build(settings);
        try
        {
            await app.StartAsync(ct);
            return app;
        }
        catch (IOException e) when (e.InnerException is AddressInUseException && FreePortOf(settings.Urls) is { } elsewhere)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            app = ServerHost.Build(settings with { Urls = elsewhere.AbsoluteUri.TrimEnd('/') });
            await app.StartAsync(ct);
            var taken = new Uri(settings.Urls!);
            output.WriteLine($"{taken.Authority} is in use (is `baton up` running there?); the demo listens on {ServerHost.ClientUrl(app)} instead");
            return app;
        }
    }

    /// <summary>The same address on port 0 (a free port the system picks); null for several addresses or a non-URL.</summary>
    private static Uri? FreePortOf(string? urls) =>
        urls is not null && !urls.Contains(';', StringComparison.Ordinal) && Uri.TryCreate(urls, UriKind.Absolute, out var uri)
            // Kestrel takes port 0 on an address only, not on "localhost".
            ? new UriBuilder(uri) { Host = uri.IsLoopback && uri.HostNameType == UriHostNameType.Dns ? "127.0.0.1" : uri.Host, Port = 0 }.Uri
            : null;

    /// <summary>Prints the run as it goes, and approves the design gate as a reviewer would.</summary>
    private static async Task<RunDetail> FollowAsync(BatonClient client, string runId, TextWriter output, CancellationToken ct)
    {
        string? phase = null;
        await foreach (var e in client.StreamRunEventsAsync(runId, ct: ct))
        {
            switch (e.Type)
            {
                case "phase.started":
                    phase = e.Phase;
                    output.WriteLine($"▸ {e.Phase} (iteration {e.Iteration}, worker {e.Data?.GetProperty("worker").GetString()})");
                    break;
                case "log" when phase is "implementation" or "test":
                    output.WriteLine($"    {e.Data?.GetProperty("message").GetString()}");
                    break;
                case "gate.opened":
                    output.WriteLine($"⏸ {e.Phase} waits for a reviewer; the demo approves it (try `baton run approve` on your own runs)");
                    await client.ApproveAsync(runId, "approved by baton demo", ct: ct);
                    break;
                case "phase.completed":
                    output.WriteLine($"✓ {e.Phase}");
                    break;
                case "phase.checks_failed":
                    output.WriteLine($"✗ {e.Phase}: checks failed; going round again");
                    break;
                case "run.failed":
                    // A failed run's stream stays open, as it may be retried: the demo ends here.
                    return await client.GetRunAsync(runId, ct);
            }
        }
        return await client.GetRunAsync(runId, ct);
    }
}

/// <summary>The demo's files: a small Python project with tests, an agent script, and the profile that uses them.</summary>
public sealed record DemoProject(string Repository, string AgentScript, string DataDir)
{
    public const string WorkerName = "demo-implementer";
    public const string ProfileName = "demo_delivery";
    public const string Intake = "# Slugs for titles\nAdd slugify(text) to textutil: lower case, words joined by '-', so that test_slugify passes.";

    public static async Task<DemoProject> CreateAsync(string dir, CancellationToken ct)
    {
        var repository = Path.Combine(dir, "textutil");
        var dataDir = Path.Combine(dir, ".baton");
        Directory.CreateDirectory(Path.Combine(dataDir, "profiles"));
        // The agent runs in the sandbox, which shows it its program file read-only (never a folder); a folder of
        // its own all the same, not the demo folder that holds the data dir.
        var agent = Path.Combine(dir, "agent", "demo-agent.sh");
        Directory.CreateDirectory(Path.GetDirectoryName(agent)!);
        await File.WriteAllTextAsync(agent, AgentScriptText, ct);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        await File.WriteAllTextAsync(Path.Combine(dataDir, "profiles", ProfileName + ".yaml"), ProfileText, ct);
        if (!Directory.Exists(Path.Combine(repository, ".git")))
        {
            Directory.CreateDirectory(repository);
            await File.WriteAllTextAsync(Path.Combine(repository, "textutil.py"), ModuleText, ct);
            await File.WriteAllTextAsync(Path.Combine(repository, "test_textutil.py"), TestsText, ct);
            await File.WriteAllTextAsync(Path.Combine(repository, ".gitignore"), "__pycache__/\n", ct);
            await GitAsync(repository, ct, "init", "--quiet", "--initial-branch=main");
            await GitAsync(repository, ct, "add", "-A");
            await GitAsync(repository, ct, "-c", "user.name=Baton demo", "-c", "user.email=demo@localhost", "commit", "--quiet", "-m", "textutil: shout()");
        }
        return new DemoProject(repository, agent, dataDir);
    }

    private static async Task GitAsync(string directory, CancellationToken ct, params string[] args)
    {
        // As the server runs git: the same on every machine, and no hook or program the repository names.
        Workspaces.GitOutput result;
        try
        {
            result = await Workspaces.Git.RunAsync(directory, [], args, ct);
        }
        catch (Agents.AgentFailedException)
        {
            throw new CliException("git is needed for the demo and was not found");
        }
        if (result.ExitCode != 0)
        {
            throw new CliException($"git {args[0]} failed: {result.Stderr.Trim()}");
        }
    }

    private const string ModuleText = """
        def shout(text):
            return text.upper() + "!"


        def slugify(text):
            raise NotImplementedError("slugify")

        """;

    private const string TestsText = """
        import unittest

        from textutil import shout, slugify


        class TextutilTest(unittest.TestCase):
            def test_shout(self):
                self.assertEqual(shout("hi"), "HI!")

            def test_slugify(self):
                self.assertEqual(slugify("Hello World"), "hello-world")

            def test_slugify_squeezes_spaces(self):
                self.assertEqual(slugify("  Many   spaces "), "many-spaces")


        if __name__ == "__main__":
            unittest.main()

        """;

    // The bundled agent: reads its prompt, edits the code in the workspace, commits nothing (Baton does), and
    // reports what it did on one JSON line. A real agent (claude, codex, aider) takes its place in the same way.
    private const string AgentScriptText = """
        #!/bin/sh
        set -e
        echo "demo agent: read $(wc -l < "$1") line(s) of prompt from $1"
        echo "demo agent: writing slugify() in $PWD/textutil.py"
        cat > textutil.py <<'PY'
        def shout(text):
            return text.upper() + "!"


        def slugify(text):
            return "-".join(text.lower().split())
        PY
        echo '{"baton_usage": {"tool_calls": 1, "summary": "implemented slugify() in textutil.py"}}'

        """;

    private const string ProfileText = """
        name: demo_delivery
        description: The `baton demo` pipeline - template PM and designer, a command-line implementer in a real repository, its real tests.
        max_iterations: 3
        phases:
          - name: discovery
            produces: [prd.md]
          - name: design
            produces: [tech_spec.md]
            gate:
              reject_to: [design, discovery]
          - name: implementation
            worker: demo-implementer
            prompt: "{{intake}}\n\nFeedback to address: {{feedback}}"
          - name: test
            produces: [test_report.md]
            check: [python3, -m, unittest, -v]
            on_failure:
              retry_from: implementation
          - name: document
            produces: [documentation.md]

        """;
}
