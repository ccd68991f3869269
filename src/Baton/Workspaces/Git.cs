using System.Text;
using System.Text.RegularExpressions;
using Baton.Agents;

namespace Baton.Workspaces;

/// <summary>What a git command printed: stdout alone (a diff is only what git wrote there), stderr for errors.</summary>
public sealed record GitOutput(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs the `git` program so that it never runs a program the repository chose. A repository's files and its
/// .git/config are written by people and agents Baton does not trust (an agent in a worktree can write the shared
/// config), so every invocation:
/// - runs no hook (core.hooksPath=/dev/null, which `--no-verify` alone is not: post-checkout, reference-transaction…);
/// - runs no fsmonitor, pager, editor, ssh or proxy command, askpass or credential helper the config names, and no
///   filter, diff or merge driver it declares (each declared driver is overridden with an empty command);
/// - refuses implicit bare repositories (Baton names its own with --git-dir) and every transport but https, http,
///   ssh and git, so `file://`, `ext::` and `fd::` are out, submodules included;
/// - reads no system or global config (nor the user's attributes and excludes files), so it behaves the same on
///   every machine.
/// Overrides go in GIT_CONFIG_COUNT/KEY/VALUE: they rank as command-line config, above every file, and a key
/// with '=' in its subsection cannot be misparsed as `-c` would.
/// </summary>
public static partial class Git
{
    public const string AllowedProtocols = "https:http:ssh:git";

    /// <summary>
    /// A diff keeps long lines whole (a line cut in the middle would make the stored patch invalid); its total stays
    /// within the usual output caps.
    /// </summary>
    public static readonly OutputLimits DiffLimits = new(1024 * 1024, OutputLimits.DefaultMaxBytes, OutputLimits.DefaultMaxLines);

    /// <summary>`config --list --null` is one NUL-separated "line": it must be read whole, or a driver past the cut escapes.</summary>
    private static readonly OutputLimits ConfigListLimits = new(1024 * 1024, 1024 * 1024, 10);

    /// <summary>The server user's ssh, which never waits for a password or a host key answer nobody will type.</summary>
    private const string SshCommand = "ssh -o BatchMode=yes";

    /// <summary>Keys that name a program git would run, set to a harmless value whatever the repository says.</summary>
    private static readonly (string Key, string Value)[] Hardening =
    [
        ("core.hooksPath", "/dev/null"),
        ("core.fsmonitor", "false"),
        ("safe.bareRepository", "explicit"),
        ("protocol.allow", "never"),
        ("protocol.https.allow", "always"),
        ("protocol.http.allow", "always"),
        ("protocol.ssh.allow", "always"),
        ("protocol.git.allow", "always"),
        ("core.sshCommand", SshCommand),
        ("core.askPass", ""),
        ("credential.helper", ""),
        ("core.pager", "cat"),
        ("core.editor", ":"),
        ("sequence.editor", ":"),
        ("diff.external", ""),
        ("commit.gpgSign", "false"),
        ("tag.gpgSign", "false"),
        ("submodule.recurse", "false"),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
        ("core.attributesFile", "/dev/null"),
        ("core.excludesFile", "/dev/null"),
    ];

    [GeneratedRegex(@"^(filter\..+\.(clean|smudge|process)|diff\..+\.(command|textconv)|merge\..+\.driver)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DriverKey();

    /// <summary>The environment of every git command: no inherited GIT_* variable, no system or global config.</summary>
    public static Dictionary<string, string> Environment(IReadOnlyList<(string Key, string Value)> overrides)
    {
        var env = ProcessRunner.BaseEnvironment();
        env["GIT_CONFIG_NOSYSTEM"] = "1";
        env["GIT_CONFIG_GLOBAL"] = "/dev/null";
        env["GIT_ATTR_NOSYSTEM"] = "1";
        env["GIT_ALLOW_PROTOCOL"] = AllowedProtocols;
        env["GIT_TERMINAL_PROMPT"] = "0";
        // Set, even empty, these win over the config's core.gitProxy and core.askPass, and name nothing to run.
        env["GIT_PROXY_COMMAND"] = "";
        env["GIT_ASKPASS"] = "";
        env["GIT_SSH_COMMAND"] = SshCommand;
        env["GIT_EDITOR"] = ":";
        env["GIT_PAGER"] = "cat";
        var all = Hardening.Concat(overrides).ToList();
        env["GIT_CONFIG_COUNT"] = all.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < all.Count; i++)
        {
            env[$"GIT_CONFIG_KEY_{i}"] = all[i].Key;
            env[$"GIT_CONFIG_VALUE_{i}"] = all[i].Value;
        }
        return env;
    }

    /// <summary>
    /// Runs git in <paramref name="workingDirectory"/> with <paramref name="args"/> (which name the repository with
    /// --git-dir, and --work-tree where there is one). <paramref name="overrides"/> add config, such as a credential.
    /// </summary>
    public static async Task<GitOutput> RunAsync(string workingDirectory, IReadOnlyList<(string Key, string Value)> overrides, IReadOnlyList<string> args, CancellationToken ct,
        OutputLimits? limits = null)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var spec = new ProcessSpec("git", args, workingDirectory, Environment(overrides));
        var code = await ProcessRunner.RunAsync(spec, (stream, line) =>
        {
            var into = stream == "stdout" ? stdout : stderr;
            lock (into)
            {
                into.Append(line).Append('\n');
            }
            return Task.CompletedTask;
        }, ct, limits: limits);
        return new GitOutput(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Empty commands for every filter, diff and merge driver the repository's config (its own, its worktree's,
    /// and what they include) declares: git would run them from an attribute in a checked-in .gitattributes.
    /// </summary>
    public static async Task<List<(string Key, string Value)>> NeutralisedDriversAsync(string workingDirectory, IReadOnlyList<string> repositoryArgs, CancellationToken ct)
    {
        var listed = await RunAsync(workingDirectory, [], [.. repositoryArgs, "config", "--list", "--null", "--name-only"], ct, ConfigListLimits);
        if (listed.ExitCode != 0)
        {
            // No config to read (or none git accepts): the command that follows fails on its own with git's reason.
            return [];
        }
        // Every name ends with NUL: output that does not was cut at the limit, and an unlisted driver would run.
        if (listed.Stdout.TrimEnd('\n') is { Length: > 0 } names && !names.EndsWith('\0'))
        {
            throw new AgentFailedException("the repository's git config is too large to check for programs it would run (over 1 MiB of names)");
        }
        return listed.Stdout.Split(['\0', '\n'], StringSplitOptions.RemoveEmptyEntries)
            .Where(key => DriverKey().IsMatch(key))
            .Distinct(StringComparer.Ordinal)
            .Select(key => (key, ""))
            .ToList();
    }
}
