using System.Globalization;
using System.Text;
using Baton.Client;

namespace Baton.Agents;

/// <summary>
/// Codex reads its settings from CODEX_HOME/config.toml, never from flags alone: Baton writes one per execution, in
/// the execution's private HOME, from the worker's `codex` settings. Codex runs unattended (approval_policy never),
/// talks to one provider over the Responses API, and sends no analytics.
/// </summary>
public static class CodexHome
{
    public const string DefaultBaseUrl = "https://api.openai.com/v1";

    /// <returns>The CODEX_HOME folder.</returns>
    public static async Task<string> WriteAsync(CodexSettings codex, string home, Func<string, string?> readEnvironment, CancellationToken ct)
    {
        var folder = Path.Combine(home, ".codex");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "config.toml"), Render(codex, readEnvironment), ct);
        return folder;
    }

    public static string Render(CodexSettings codex, Func<string, string?> readEnvironment)
    {
        var baseUrl = (codex.BaseUrlEnv is { } name ? readEnvironment(name) : null) is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : codex.BaseUrl ?? DefaultBaseUrl;
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new AgentFailedException($"{codex.BaseUrlEnv} on the Baton server is not an http(s) URL (codex.base_url_env)");
        }
        var toml = new StringBuilder();
        toml.Append(CultureInfo.InvariantCulture, $"model = {Quote(codex.Model!)}\n");
        toml.Append("model_provider = \"baton\"\n");
        toml.Append("approval_policy = \"never\"\n");
        toml.Append(CultureInfo.InvariantCulture, $"sandbox_mode = {Quote(codex.SandboxMode ?? "workspace-write")}\n");
        if (codex.ReasoningEffort is { } effort)
        {
            toml.Append(CultureInfo.InvariantCulture, $"model_reasoning_effort = {Quote(effort)}\n");
        }
        toml.Append("\n[model_providers.baton]\n");
        toml.Append("name = \"baton\"\n");
        toml.Append(CultureInfo.InvariantCulture, $"base_url = {Quote(baseUrl)}\n");
        toml.Append("wire_api = \"responses\"\n");
        toml.Append(CultureInfo.InvariantCulture, $"env_key = {Quote(codex.ApiKeyEnv ?? "OPENAI_API_KEY")}\n");
        toml.Append("\n[analytics]\nenabled = false\n");
        return toml.ToString();
    }

    /// <summary>A TOML basic string: quotes, backslashes and control characters escaped, so a value cannot add a key.</summary>
    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (var ch in value)
        {
            quoted.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                < ' ' or '\u007f' => $"\\u{(int)ch:X4}",
                _ => ch.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }
}
