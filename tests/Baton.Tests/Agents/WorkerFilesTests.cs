using Baton.Agents;
using Baton.Tests.Support;

namespace Baton.Tests.Agents;

public sealed class WorkerFilesTests : IDisposable
{
    private readonly BatonFactory _factory = new();

    private static string DocsWorkers()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
        {
            dir = dir.Parent;
        }
        return Path.Combine(dir!.FullName, "docs", "workers");
    }

    [Fact]
    public void Ready_made_workers_end_options_before_the_prompt()
    {
        foreach (var file in Directory.GetFiles(DocsWorkers(), "*.yaml"))
        {
            var (request, problem) = WorkerFiles.Read(file);
            Assert.True(request is not null, problem);
            if (request.Argv?.ToList().IndexOf("{{prompt}}") is { } at and >= 0)
            {
                // A prompt that starts with '-' must not become an option of the agent's CLI.
                Assert.True(at > 0 && request.Argv[at - 1] == "--", $"{Path.GetFileName(file)}: no `--` before {{{{prompt}}}}");
            }
        }
    }

    [Fact]
    public void The_readme_shows_the_worker_files_the_real_agent_tests_run_exactly()
    {
        var readme = File.ReadAllText(Path.Combine(DocsWorkers(), "..", "..", "README.md"));
        foreach (var name in new[] { "claude-code", "codex" })
        {
            Assert.Contains("```yaml\n" + File.ReadAllText(Path.Combine(DocsWorkers(), name + ".yaml")) + "```", readme, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_worker_files_in_the_docs_load_as_workers_and_a_bad_file_is_skipped()
    {
        var folder = Path.Combine(_factory.DataDir, "workers");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(DocsWorkers(), "*.yaml"))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }
        File.WriteAllText(Path.Combine(folder, "broken.yaml"), "name: broken\nkind: command\nargv: claude\n");
        File.WriteAllText(Path.Combine(folder, "typo.yaml"), "name: typo\nkind: command\nargvs: [x]\n");

        var workers = (await _factory.Client().ListWorkersAsync()).Workers.ToDictionary(w => w.Name);
        Assert.Equal(["aider", "claude-code", "codex", "ollama-coder", "vllm"], workers.Keys.Order());

        var claude = workers["claude-code"];
        Assert.Equal(("command", "claude", "30m", 2), (claude.Kind, claude.Usage, claude.Timeout, claude.Concurrency));
        Assert.Equal(["claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits", "--", "{{prompt}}"], claude.Argv);
        Assert.Equal("ANTHROPIC_API_KEY", claude.SecretEnv!["ANTHROPIC_API_KEY"]);
        Assert.Equal("ANTHROPIC_BASE_URL", claude.PassEnv!["ANTHROPIC_BASE_URL"]);
        var codex = workers["codex"];
        Assert.Equal(("codex", "gpt-5.5", "OPENAI_BASE_URL", 1.25m, 0.125m, 10m),
            (codex.Usage, codex.Codex!.Model, codex.Codex.BaseUrlEnv, codex.InputPricePerMtok, codex.CachedInputPricePerMtok, codex.OutputPricePerMtok));
        Assert.Contains("{{prompt_file}}", workers["aider"].Argv!);
        Assert.Equal(("openai", "http://127.0.0.1:11434/v1", 4096), (workers["ollama-coder"].Kind, workers["ollama-coder"].BaseUrl, workers["ollama-coder"].MaxTokens));
        Assert.Equal((0.20m, 0.60m, "VLLM_API_KEY"), (workers["vllm"].InputPricePerMtok, workers["vllm"].OutputPricePerMtok, workers["vllm"].ApiKeyEnv));
    }

    [Fact]
    public void Reading_a_bad_file_says_what_is_wrong()
    {
        var path = Path.Combine(_factory.DataDir, "bad.yaml");
        File.WriteAllText(path, "name: x\nkind: command\nargv: [a\n");
        Assert.Contains("line", WorkerFiles.Read(path).Problem, StringComparison.Ordinal);
        File.WriteAllText(path, "name: x\nkind: command\nconcurrency: lots\n");
        Assert.Equal("concurrency: wrong type of value", WorkerFiles.Read(path).Problem);
        Assert.Equal("unknown field 'nmae'", WorkerFiles.Parse("nmae: x\nkind: command\n").Problem);
        Assert.Contains("Could not find file", WorkerFiles.Read(Path.Combine(_factory.DataDir, "missing.yaml")).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_file_that_is_a_link_is_refused_without_reading_its_target()
    {
        var target = Path.Combine(_factory.DataDir, "target.yaml");
        File.WriteAllText(target, "name: linked\nkind: command\nargv: [x]\n");
        var link = Path.Combine(_factory.DataDir, "link.yaml");
        File.CreateSymbolicLink(link, target);
        var (request, problem) = WorkerFiles.Read(link);
        Assert.Null(request);
        Assert.Contains("symbolic link", problem, StringComparison.Ordinal);

        File.CreateSymbolicLink(Path.Combine(_factory.DataDir, "zero.yaml"), "/dev/zero");
        Assert.Contains("symbolic link", WorkerFiles.Read(Path.Combine(_factory.DataDir, "zero.yaml")).Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name: x\nkind: command\nargv:\n  - a: [b\n    c: d\n", "line 5, column 5: ")]
    [InlineData("name: x\nkind: command\nargv: [a\n", "line 4, column 1: ")]
    public void A_yaml_syntax_error_in_a_worker_file_says_its_line_and_column(string yaml, string where)
    {
        var (request, problem) = WorkerFiles.Parse(yaml);

        Assert.Null(request);
        Assert.StartsWith(where, problem, StringComparison.Ordinal);
    }

    public void Dispose() => _factory.Dispose();
}
