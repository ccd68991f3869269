using System.Text.RegularExpressions;

namespace Baton.Workspaces;

/// <summary>
/// Where a repository is: a local folder (admin-only, inside BATON_REPO_ROOTS) or a git URL, with what Baton
/// refuses (file://, transport helpers such as ext::, credentials in the URL) and the real path of a folder.
/// </summary>
public static partial class RepositoryLocations
{
    private static readonly string[] Schemes = ["https", "http", "ssh", "git"];

    /// <summary>`transport::address`: git hands it to a remote helper (`ext::` runs a command, `fd::` uses a descriptor).</summary>
    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.\-]*::", RegexOptions.CultureInvariant)]
    private static partial Regex TransportHelper();

    [GeneratedRegex(@"^(?<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?<rest>.*)$", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex SchemeUrl();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex VariableName();

    /// <summary>A path on the server rather than something git fetches (a URL, `user@host:path`, `helper::address`).</summary>
    public static bool IsLocal(string url) => !SchemeUrl().IsMatch(url) && !TransportHelper().IsMatch(url) && !IsScpLike(url);

    /// <summary>
    /// Git's `[user@]host:path`: a colon before any slash. A path such as `/srv/a@b` or `./x:y` is local, so it is an
    /// admin's to register, whatever characters it holds.
    /// </summary>
    private static bool IsScpLike(string url)
    {
        var colon = url.IndexOf(':', StringComparison.Ordinal);
        var slash = url.IndexOf('/', StringComparison.Ordinal);
        return colon > 0 && (slash < 0 || colon < slash);
    }

    /// <summary>Why a URL is refused for everyone, or null. Never echoes the URL: it may carry a secret.</summary>
    public static string? Refusal(string url)
    {
        if (url.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return "file: URLs are refused: a repository on this server is registered by an admin as a local path inside BATON_REPO_ROOTS";
        }
        if (TransportHelper().IsMatch(url))
        {
            return "transport::address URLs (ext::, fd:: and other remote helpers) are refused: use an https, http, ssh or git URL";
        }
        if (SchemeUrl().Match(url) is { Success: true } m && !Schemes.Contains(m.Groups["scheme"].Value.ToLowerInvariant()))
        {
            return "only https, http, ssh and git URLs are accepted (or, for an admin, a local path inside BATON_REPO_ROOTS)";
        }
        if (HasCredentials(url))
        {
            return "the URL carries credentials, which Baton neither stores nor shows: register the URL without them, "
                + "and have an admin set credential_env to the name of a server environment variable that holds user:token";
        }
        return null;
    }

    /// <summary>Does the URL's authority carry a password or token (anything but an ssh user name)?</summary>
    public static bool HasCredentials(string url) => Redact(url) != url;

    /// <summary>
    /// The URL without credentials: all of http(s)'s user info (a lone "user" is often a token), an ssh URL's password.
    /// The ssh user name stays: it is not a secret, and `git@host:path` needs it.
    /// </summary>
    public static string Redact(string url)
    {
        var m = SchemeUrl().Match(url);
        if (!m.Success)
        {
            return url;
        }
        var scheme = m.Groups["scheme"].Value;
        var rest = m.Groups["rest"].Value;
        var authorityEnd = rest.IndexOfAny(['/', '?', '#']);
        var authority = authorityEnd < 0 ? rest : rest[..authorityEnd];
        var at = authority.LastIndexOf('@');
        if (at < 0)
        {
            return url;
        }
        var userInfo = authority[..at];
        var kept = scheme.Equals("ssh", StringComparison.OrdinalIgnoreCase) && !userInfo.Contains(':', StringComparison.Ordinal) ? userInfo + "@" : "";
        return $"{scheme}://{kept}{rest[(at + 1)..]}";
    }

    /// <summary>Is this the name of an environment variable (not a value pasted by mistake)?</summary>
    public static bool IsVariableName(string name) =>
        VariableName().IsMatch(name) && !name.StartsWith("BATON_", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The path with every symbolic link resolved, as the kernel would follow it (a ".." after a link goes to the
    /// link target's parent). Missing parts are kept as written; a link loop stops after 40 links.
    /// </summary>
    public static string RealPath(string path)
    {
        var pending = new Stack<string>(Parts(Path.IsPathRooted(path) ? path : Path.Combine(Directory.GetCurrentDirectory(), path)).Reverse());
        var current = Path.GetPathRoot(Path.GetFullPath("/"))!;
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            var next = Path.Combine(current, part);
            string? target = null;
            try
            {
                target = new FileInfo(next).LinkTarget;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > 40)
            {
                throw new IOException("too many levels of symbolic links");
            }
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(Path.GetFullPath("/"))!;
            }
            foreach (var p in Parts(target).Reverse())
            {
                pending.Push(p);
            }
        }
        return current;
    }

    private static string[] Parts(string path) => path.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
}
