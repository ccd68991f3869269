using Baton.Client;

namespace Baton.Cli;

/// <summary>
/// Where a client command talks to and with which key: <c>--url</c>/<c>--token</c>, else BATON_URL/BATON_TOKEN,
/// else the chosen context of the config file (<c>--context</c>, BATON_CONTEXT, or the one `baton context use`
/// picked), else a local <c>baton up</c> (http://127.0.0.1:7070 and the admin key it keeps in the data dir), so
/// that against a local server nothing needs setting up.
/// </summary>
public sealed class Connection
{
    public const string DefaultUrl = "http://127.0.0.1:7070";

    private Connection(Uri url, string? token, string tokenSource, string? context)
    {
        Url = url;
        Token = token;
        TokenSource = tokenSource;
        Context = context;
    }

    /// <summary>The server's base address, always ending in '/' so relative API paths keep any path prefix.</summary>
    public Uri Url { get; }

    public string? Token { get; }

    /// <summary>Where the key came from, worded for an error message when the server refuses it.</summary>
    public string TokenSource { get; }

    /// <summary>The config file's context in use, if any.</summary>
    public string? Context { get; }

    /// <summary>The URL as people type it: no trailing slash.</summary>
    public string DisplayUrl => Url.AbsoluteUri.TrimEnd('/');

    public static Connection Resolve(string? urlOption, string? tokenOption, Func<string, string?> environment, string? contextOption = null)
    {
        var (contextName, context, configPath) = ChooseContext(contextOption, environment);
        var contextUrl = context is null ? null : ParseUrl(context.Url, $"the url of context '{contextName}'");
        var url = ParseUrl(urlOption, "--url") ?? ParseUrl(Value(environment("BATON_URL")), "BATON_URL") ?? contextUrl ?? new Uri(DefaultUrl + "/");

        if (Value(tokenOption) is { } token)
        {
            return new Connection(url, token, "the key came from --token", contextName);
        }
        if (Value(environment("BATON_TOKEN")) is { } envToken)
        {
            return new Connection(url, envToken, "the key came from BATON_TOKEN", contextName);
        }
        // A context's key goes only to the context's server, never to a URL given on top of it.
        if (context is not null && url == contextUrl && Value(context.Token) is { } contextToken)
        {
            return new Connection(url, contextToken, $"the key came from context '{contextName}' in {configPath}", contextName);
        }
        var tokenPath = LocalTokenPath(environment);
        // The local admin key only ever goes to this machine: BATON_URL pointing at a team server must not
        // receive the admin key of someone's laptop.
        if (!url.IsLoopback)
        {
            return new Connection(url, null, $"no key was sent: {url.Host} is not this machine, so set BATON_TOKEN, pass --token, or add a context with a key", contextName);
        }
        string? local;
        try
        {
            local = LocalAdminToken.TryRead(tokenPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Connection(url, null, $"no key was sent: cannot read {tokenPath} ({e.Message})", contextName);
        }
        return local is null
            ? new Connection(url, null, $"no key was sent: set BATON_TOKEN, pass --token, or run `baton up` here (it writes {tokenPath})", contextName)
            : new Connection(url, local, $"the key came from {tokenPath}", contextName);
    }

    /// <summary>Where a local `baton up` keeps its admin key: BATON_DATA_DIR (default ./.baton)/admin.token.</summary>
    public static string LocalTokenPath(Func<string, string?> environment) =>
        Path.Combine(Path.GetFullPath(Value(environment("BATON_DATA_DIR")) ?? ".baton"), BatonOptions.LocalAdminTokenFile);

    public BatonClient CreateClient(TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        var http = new HttpClient(handler) { BaseAddress = Url, Timeout = timeout };
        if (Token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        }
        return new BatonClient(http);
    }

    /// <summary>Checks what `baton context add` is given: the same rules as --url.</summary>
    public static Uri ParseContextUrl(string text) => ParseUrl(text, "--url")!;

    private static (string? Name, ContextEntry? Context, string? ConfigPath) ChooseContext(string? contextOption, Func<string, string?> environment)
    {
        var configPath = CliConfig.PathFrom(environment);
        var asked = Value(contextOption) ?? Value(environment("BATON_CONTEXT"));
        var askedBy = Value(contextOption) is not null ? "--context" : "BATON_CONTEXT";
        if (asked is null && (configPath is null || !File.Exists(configPath)))
        {
            return (null, null, configPath);
        }
        var config = CliConfig.Load(configPath);
        var name = asked ?? config.CurrentContext;
        if (name is null)
        {
            return (null, null, configPath);
        }
        if (!config.Contexts.TryGetValue(name, out var context))
        {
            var known = config.Contexts.Count == 0 ? "there are none yet (`baton context add`)" : "known: " + string.Join(", ", config.Contexts.Keys);
            throw new CliException(
                asked is null
                    ? $"the current context '{name}' is not in {configPath}; {known}"
                    : $"{askedBy} names no context '{name}'; {known}",
                ExitCodes.Usage);
        }
        return (name, context, configPath);
    }

    private static Uri? ParseUrl(string? text, string source)
    {
        if (Value(text) is not { } value)
        {
            return null;
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new CliException($"{source} must be an http:// or https:// URL such as {DefaultUrl}, not '{value}'", ExitCodes.Usage);
        }
        return uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    private static string? Value(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
