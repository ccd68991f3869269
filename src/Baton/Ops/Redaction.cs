using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Baton.Ops;

/// <summary>
/// Secret values kept out of everything Baton stores or exports (issue 14, ADR 40): log lines, events, artifacts,
/// execution records, spans and its own logs, where each becomes <see cref="Mask"/>. The secrets are the values of
/// this process's environment variables that Baton knows hold one (workers' <c>secret_env</c> and <c>api_key_env</c>,
/// repositories' <c>credential_env</c>, BATON_ADMIN_TOKEN and the names in BATON_REDACT_ENV), added when they are
/// read, and API and execution keys, found by their shape (<c>bat_…</c>, <c>bex_…</c>).
/// </summary>
/// <remarks>
/// One per process (<see cref="Process"/>), as the environment it mirrors is. The set only grows, and is swapped whole
/// on a change, so <see cref="Redact"/> takes no lock; its search is one vectorized pass over the text for all the
/// values at once (<see cref="SearchValues{T}"/>, Aho-Corasick or Teddy), so many secrets cost about what one does.
/// </remarks>
public sealed partial class Redactor
{
    public const string Mask = "[REDACTED]";

    /// <summary>
    /// Shorter values are not redacted: "admin" or "1234" would mask ordinary words and numbers everywhere, and a
    /// secret that short is not a secret. They are refused where an operator names them (BATON_REDACT_ENV, a warning).
    /// </summary>
    public const int MinSecretLength = 8;

    /// <summary>BATON_REDACT_ENV: comma-separated names of more environment variables whose values are secrets.</summary>
    public const string ExtraNamesSetting = "BATON_REDACT_ENV";

    /// <summary>The process's redactor: the secrets it knows are this process's environment variables' values.</summary>
    public static Redactor Process { get; } = new();

    private static readonly SearchValues<string> TokenPrefixes = SearchValues.Create(["bat_", "bex_"], StringComparison.Ordinal);

    private readonly Lock _lock = new();
    private volatile Secrets _secrets = Secrets.None;

    /// <summary>The longest secret (in any of its spellings): how much of a stream is held back before it is cut.</summary>
    public int MaxLength => _secrets.MaxLength;

    /// <summary>
    /// Adds a secret value, also as a JSON string spells it (stored events are JSON, and so are logs in JSON). Returns
    /// false for a value too short to redact (<see cref="MinSecretLength"/>) or none.
    /// </summary>
    public bool Add(string? value)
    {
        var trimmed = value?.Trim();
        if (trimmed is null || trimmed.Length < MinSecretLength)
        {
            return false;
        }
        string[] spellings =
        [
            trimmed,
            value!,
            JsonEncodedText.Encode(trimmed).ToString(),
            JsonEncodedText.Encode(trimmed, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString(),
        ];
        lock (_lock)
        {
            var current = _secrets;
            var added = spellings.Where(s => s.Length >= MinSecretLength && !current.Contains(s)).Distinct(StringComparer.Ordinal).ToList();
            if (added.Count > 0)
            {
                _secrets = current.With(added);
            }
        }
        return true;
    }

    /// <summary>The value of a secret environment variable, which from now on is redacted wherever it appears.</summary>
    public string? ReadSecret(string name)
    {
        var value = Environment.GetEnvironmentVariable(name);
        Add(value);
        return value;
    }

    /// <summary>The text with every known secret and every API or execution key in it replaced by <see cref="Mask"/>.</summary>
    [return: NotNullIfNotNull(nameof(text))]
    public string? Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        var secrets = _secrets;
        if (secrets.Search is { } search && text.AsSpan().IndexOfAny(search) >= 0)
        {
            text = secrets.ReplaceIn(text);
        }
        // Keys keep their prefix, which says what leaked without saying it.
        return text.AsSpan().IndexOfAny(TokenPrefixes) >= 0 ? KeyToken().Replace(text, "${prefix}" + Mask) : text;
    }

    /// <summary>
    /// A line cut at a length limit: redacted, and its end masked too when it is the start of a secret, which the cut
    /// took the rest of (the whole value is not there to be found).
    /// </summary>
    public string RedactCut(string kept)
    {
        var text = Redact(kept);
        var secrets = _secrets;
        var overlap = 0;
        foreach (var secret in secrets.Values)
        {
            for (var length = Math.Min(secret.Length - 1, text.Length); length > overlap; length--)
            {
                if (text.AsSpan().EndsWith(secret.AsSpan(0, length), StringComparison.Ordinal))
                {
                    overlap = length;
                    break;
                }
            }
        }
        return overlap == 0 ? text : text[..^overlap] + Mask;
    }

    /// <summary>An API key (<c>bat_</c> and 43 base64url characters) or an execution key (<c>bex_</c> and a longer protected payload).</summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9_-])(?<prefix>b(?:at|ex)_)[A-Za-z0-9_-]{40,}")]
    private static partial Regex KeyToken();

    private sealed class Secrets
    {
        public static readonly Secrets None = new([]);

        private readonly HashSet<string> _set;

        private Secrets(string[] longestFirst)
        {
            Values = longestFirst;
            _set = new HashSet<string>(longestFirst, StringComparer.Ordinal);
            Search = longestFirst.Length == 0 ? null : SearchValues.Create(longestFirst, StringComparison.Ordinal);
            MaxLength = longestFirst.Length == 0 ? 0 : longestFirst[0].Length;
        }

        /// <summary>Longest first: where two start at one place, the longer is the one replaced.</summary>
        public string[] Values { get; }

        public SearchValues<string>? Search { get; }

        public int MaxLength { get; }

        public bool Contains(string value) => _set.Contains(value);

        public Secrets With(IEnumerable<string> added) =>
            new([.. Values.Concat(added).OrderByDescending(v => v.Length).ThenBy(v => v, StringComparer.Ordinal)]);

        public string ReplaceIn(string text)
        {
            var result = new StringBuilder(text.Length);
            var rest = text.AsSpan();
            int at;
            while ((at = rest.IndexOfAny(Search!)) >= 0)
            {
                result.Append(rest[..at]).Append(Mask);
                rest = rest[at..];
                rest = rest[LengthOfSecretAtStart(rest)..];
            }
            return result.Append(rest).ToString();
        }

        private int LengthOfSecretAtStart(ReadOnlySpan<char> text)
        {
            foreach (var value in Values)
            {
                if (text.StartsWith(value, StringComparison.Ordinal))
                {
                    return value.Length;
                }
            }
            throw new InvalidOperationException("the search found a secret that none of the values is");
        }
    }
}

/// <summary>The secrets a node knows of at start-up, for <see cref="Redactor"/> (ADR 40).</summary>
public static class KnownSecrets
{
    /// <summary>
    /// Adds the values of BATON_ADMIN_TOKEN, of the variables named in BATON_REDACT_ENV and of those the workers
    /// (<c>secret_env</c>, <c>api_key_env</c>, <c>codex.api_key_env</c>) and repositories (<c>credential_env</c>) name,
    /// so text is redacted on this node before any of its executions read them (one created later is added when read).
    /// Returns the names of BATON_REDACT_ENV that could not be used: unset, or too short to redact.
    /// </summary>
    public static async Task<IReadOnlyList<string>> AddAsync(Redactor redactor, Storage.Database db, IConfiguration config, CancellationToken ct)
    {
        redactor.Add(config["BATON_ADMIN_TOKEN"]);
        var unusable = NamesIn(config[Redactor.ExtraNamesSetting]).Where(name => !redactor.Add(Environment.GetEnvironmentVariable(name))).ToList();
        var named = await db.ReadAsync(async c =>
        {
            var workers = (await Agents.WorkerStore.ListAsync(c, null)).Select(w => w.ToDefinition().Config).SelectMany(w =>
                (w.SecretEnv?.Values ?? []).Append(w.ApiKeyEnv).Append(w.Codex?.ApiKeyEnv));
            var repositories = (await Workspaces.RepositoryStore.ListWithCredentialsAsync(c, null)).Select(r => r.CredentialEnv);
            return workers.Concat(repositories).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        }, ct);
        foreach (var name in named)
        {
            redactor.ReadSecret(name);
        }
        return unusable;
    }

    /// <summary>BATON_REDACT_ENV's names: comma-separated, blanks ignored.</summary>
    public static IReadOnlyList<string> NamesIn(string? setting) =>
        (setting ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
