using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Client;
using Baton.Profiles;
using Baton.Storage;

namespace Baton.Agents;

/// <summary>What a worker definition must be, for POST /api/workers and worker files alike.</summary>
public static partial class WorkerValidation
{
    /// <summary>Checks a worker definition (from the API or a YAML file) and makes the row to store, or says what is wrong.</summary>
    public static (WorkerRow? Row, Dictionary<string, string[]> Errors) Validate(CreateWorkerRequest body, TimeProvider time)
    {
        var errors = new Dictionary<string, string[]>();
        void Error(string field, string message) => errors[field] = [message];

        if (string.IsNullOrWhiteSpace(body.Name))
        {
            Error("name", "name is required: profiles refer to the worker by it");
        }
        else if (!NamePattern().IsMatch(body.Name) || body.Name is WorkerKinds.Template or WorkerKinds.External)
        {
            Error("name", "name must be 1-64 characters of a-z, 0-9, '_' or '-', and not 'template' or 'external'");
        }
        if (string.IsNullOrWhiteSpace(body.Kind))
        {
            Error("kind", $"kind is required: one of {string.Join(", ", WorkerKinds.All)}");
        }
        else if (!WorkerKinds.All.Contains(body.Kind))
        {
            Error("kind", $"unknown kind '{body.Kind}'; one of {string.Join(", ", WorkerKinds.All)}");
        }
        TimeSpan? timeout = null;
        if (body.Timeout is not null)
        {
            if (Durations.TryParse(body.Timeout, out var t) && t > TimeSpan.Zero && t <= Durations.MaxTimer)
            {
                timeout = t;
            }
            else
            {
                Error("timeout", "timeout must be a duration such as 30s, 10m or 2h, at most 49d");
            }
        }
        if (body.Concurrency is < 0 or > 1000)
        {
            Error("concurrency", "concurrency must be from 0 (no limit) to 1000");
        }
        if (body.Kind == WorkerKinds.Command)
        {
            if (body.Argv is not { Count: > 0 } || string.IsNullOrWhiteSpace(body.Argv[0]))
            {
                Error("argv", "argv is required for a command worker: the program and its arguments, e.g. [\"claude\", \"-p\", \"{{prompt}}\"]");
            }
            else if (body.Argv.Count > 200 || body.Argv.Any(a => a.Length > 10_000))
            {
                Error("argv", "argv is too long");
            }
            if (body.Usage is not null && !UsageParser.Modes.Contains(body.Usage))
            {
                Error("usage", $"usage must be one of {string.Join(", ", UsageParser.Modes)}");
            }
            foreach (var (name, _) in (body.Env ?? new Dictionary<string, string>()).Concat(body.SecretEnv ?? new Dictionary<string, string>())
                .Concat(body.PassEnv ?? new Dictionary<string, string>()))
            {
                if (!EnvNamePattern().IsMatch(name))
                {
                    Error("env", $"'{name}' is not an environment variable name");
                }
            }
            foreach (var source in (body.PassEnv ?? new Dictionary<string, string>()).Values.Where(s => !EnvNamePattern().IsMatch(s)))
            {
                Error("pass_env", $"pass_env maps to the NAME of a variable on the Baton server; '{Shorten(source)}' is not a name");
            }
            foreach (var (field, source) in (body.PassEnv ?? new Dictionary<string, string>()).Values.Select(v => ("pass_env", v))
                .Concat((body.SecretEnv ?? new Dictionary<string, string>()).Values.Select(v => ("secret_env", v)))
                .Concat(new[] { ("codex.base_url_env", body.Codex?.BaseUrlEnv), ("codex.api_key_env", body.Codex?.ApiKeyEnv) }
                    .Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!))))
            {
                if (ServerSecrets.Contains(source))
                {
                    Error(field, $"{field} cannot hand an agent the server's own {source}: it holds Baton's own secret (its database password, its admin key, a client's key)");
                }
            }
            if (body.Codex is { } codex)
            {
                ValidateCodex(codex, Error);
            }
            foreach (var source in (body.SecretEnv ?? new Dictionary<string, string>()).Values)
            {
                if (!EnvNamePattern().IsMatch(source))
                {
                    Error("secret_env", $"secret_env maps to the NAME of a variable on the Baton server, not a value; '{Shorten(source)}' is not a name");
                }
            }
        }
        if (body.Kind == WorkerKinds.OpenAi)
        {
            if (!Uri.TryCreate(body.BaseUrl, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
            {
                Error("base_url", "base_url is required for an openai worker: the chat-completions base URL, e.g. http://127.0.0.1:11434/v1");
            }
            if (string.IsNullOrWhiteSpace(body.Model))
            {
                Error("model", "model is required for an openai worker");
            }
            if (body.ApiKeyEnv is not null && !EnvNamePattern().IsMatch(body.ApiKeyEnv))
            {
                Error("api_key_env", "api_key_env is the NAME of the variable that holds the key on the Baton server, not the key");
            }
            if (body.MaxTokens is < 1 or > 1_000_000)
            {
                Error("max_tokens", "max_tokens must be from 1 to 1000000");
            }
        }
        if (body.InputPricePerMtok is < 0 or > 10_000 || body.OutputPricePerMtok is < 0 or > 10_000 || body.CachedInputPricePerMtok is < 0 or > 10_000)
        {
            Error("input_price_per_mtok", "prices are US dollars per million tokens, from 0 to 10000");
        }
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var config = new WorkerConfig
        {
            Argv = body.Argv,
            Env = body.Env,
            SecretEnv = body.SecretEnv,
            Usage = body.Usage,
            BaseUrl = body.BaseUrl,
            Model = body.Model,
            ApiKeyEnv = body.ApiKeyEnv,
            InputPricePerMtok = body.InputPricePerMtok,
            OutputPricePerMtok = body.OutputPricePerMtok,
            MaxTokens = body.MaxTokens,
            SystemPrompt = body.SystemPrompt,
            Timeout = timeout,
            Network = body.Network,
            PassEnv = body.PassEnv,
            Codex = body.Codex,
            CachedInputPricePerMtok = body.CachedInputPricePerMtok,
        };
        var row = new WorkerRow
        {
            Id = Ids.New("wkr", time),
            Name = body.Name!,
            Kind = body.Kind!,
            Config = JsonSerializer.Serialize(config, WorkerRow.ConfigJson),
            Concurrency = body.Concurrency ?? 0,
            CreatedAt = time.GetUtcNow().ToMs(),
        };
        return (row, errors);
    }

    /// <summary>Codex's settings become a TOML file: every value is checked here (and quoted when written).</summary>
    private static void ValidateCodex(Baton.Client.CodexSettings codex, Action<string, string> error)
    {
        if (string.IsNullOrWhiteSpace(codex.Model) || !SettingPattern().IsMatch(codex.Model))
        {
            error("codex.model", "codex.model is required: the model Codex asks for, e.g. gpt-5.5 (letters, digits, '.', '-', '_', '/', ':')");
        }
        if (codex.BaseUrl is not null && (!Uri.TryCreate(codex.BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
        {
            error("codex.base_url", "codex.base_url must be an http(s) URL, e.g. https://api.openai.com/v1");
        }
        foreach (var (field, name) in new[] { ("codex.base_url_env", codex.BaseUrlEnv), ("codex.api_key_env", codex.ApiKeyEnv) })
        {
            if (name is not null && !EnvNamePattern().IsMatch(name))
            {
                error(field, $"{field} is the NAME of an environment variable, not a value");
            }
        }
        if (codex.SandboxMode is not (null or "read-only" or "workspace-write" or "danger-full-access"))
        {
            error("codex.sandbox_mode", "codex.sandbox_mode must be read-only, workspace-write or danger-full-access");
        }
        if (codex.ReasoningEffort is not (null or "minimal" or "low" or "medium" or "high" or "xhigh"))
        {
            error("codex.reasoning_effort", "codex.reasoning_effort must be minimal, low, medium, high or xhigh");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._/:-]{1,128}$")]
    private static partial Regex SettingPattern();

    private static string Shorten(string value) => value.Length <= 4 ? "****" : value[..2] + "…";

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvNamePattern();

    /// <summary>The server's settings that hold its own secrets, which no worker may pass on to an agent.</summary>
    private static readonly HashSet<string> ServerSecrets = new(StringComparer.Ordinal) { "BATON_DATABASE", "BATON_ADMIN_TOKEN", "BATON_TOKEN" };
}
