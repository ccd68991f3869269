namespace Baton.Tests.Support;

/// <summary>
/// The real agent programs, Claude Code and Codex, as ./test installs them (npm ci in tools/agents, pinned in its
/// package-lock.json), and the ready-made worker files in docs/workers that run them.
/// </summary>
public static class RealAgents
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>
    /// tools/agents/node_modules (or BATON_TEST_AGENTS/node_modules: ./test installs there when the checkout is inside
    /// HOME, which the sandbox never shows): where the programs are; shown read-only to the sandbox.
    /// </summary>
    public static string Modules => Path.Combine(
        Environment.GetEnvironmentVariable("BATON_TEST_AGENTS") is { Length: > 0 } folder ? folder : Path.Combine(RepositoryRoot, "tools", "agents"),
        "node_modules");

    public static string Bin => Path.Combine(Modules, ".bin");

    public static string WorkerFile(string name) => Path.Combine(RepositoryRoot, "docs", "workers", name + ".yaml");

    /// <summary>
    /// The `baton` CLI as built beside these tests (same configuration): what an agent runs for `baton mcp`. A failure
    /// says how to build it when it is missing.
    /// </summary>
    public static string Cli()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var cli = Path.Combine(RepositoryRoot, "src", "Baton.Cli", "bin", configuration, "net10.0", "baton.dll");
        return File.Exists(cli) ? cli
            : throw new InvalidOperationException($"the baton CLI is not built at {cli}: run `dotnet build src/Baton.Cli -c {configuration}` (building Baton.slnx does it)");
    }

    /// <summary>The programs' folder, or a failure that says what to run: CI must run these tests, never skip them.</summary>
    public static string RequireInstalled()
    {
        var missing = new[] { "claude", "codex" }.Where(p => !File.Exists(Path.Combine(Bin, p))).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"{string.Join(" and ", missing)} not installed in {Bin}: run `npm ci --prefix tools/agents` in {RepositoryRoot} (./test does it)");
        }
        var home = Environment.GetEnvironmentVariable("HOME");
        if (home is { Length: > 1 } && Path.GetFullPath(Bin).StartsWith(Path.GetFullPath(home).TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"{Bin} is inside HOME ({home}), which the sandbox never shows to agents: run the tests with ./test, which installs them outside HOME then");
        }
        return Bin;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException($"no Baton.slnx above {AppContext.BaseDirectory}");
    }
}
