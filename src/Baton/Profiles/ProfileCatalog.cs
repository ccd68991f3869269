using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Baton.Profiles;

public sealed record LoadedProfile(Profile Profile, string Source, string Hash, string Origin, string File);

public sealed record ProfileSet(IReadOnlyList<LoadedProfile> Profiles, IReadOnlyList<ProfileError> Errors)
{
    public LoadedProfile? Find(string name) => Profiles.FirstOrDefault(p => p.Profile.Name == name);
}

/// <summary>
/// Built-in profiles (embedded) plus the user's folder (<c>&lt;data dir&gt;/profiles</c>); a user profile with a
/// built-in's name replaces it. The folder is re-read when its files change, so editing a profile needs no restart.
/// Runs keep the exact profile text they started with (by hash), so an edit never changes a run in flight.
/// </summary>
public sealed class ProfileCatalog(string userFolder)
{
    private static readonly IReadOnlyList<(string File, string Source)> BuiltIns = LoadBuiltIns();
    private readonly ConcurrentDictionary<string, Profile> _byHash = new();
    private readonly Lock _lock = new();
    private string _fingerprint = "-";
    private ProfileSet _current = new([], []);

    public string UserFolder { get; } = userFolder;

    public ProfileSet Current()
    {
        var fingerprint = Fingerprint();
        lock (_lock)
        {
            if (fingerprint != _fingerprint)
            {
                _current = Load();
                _fingerprint = fingerprint;
            }
            return _current;
        }
    }

    public bool TryGetByHash(string hash, out Profile profile) => _byHash.TryGetValue(hash, out profile!);

    /// <summary>The profile a run was created with, parsed once per process.</summary>
    public Profile ByHash(string hash, Func<string> loadSource) =>
        _byHash.GetOrAdd(hash, _ => ProfileParser.Parse(loadSource(), hash).Profile
            ?? throw new InvalidOperationException($"stored profile {hash} no longer parses"));

    public static string HashOf(string source) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source)));

    private ProfileSet Load()
    {
        var profiles = new Dictionary<string, LoadedProfile>();
        var errors = new List<ProfileError>();
        foreach (var (file, source) in BuiltIns)
        {
            Add(file, source, "builtin");
        }
        if (Directory.Exists(UserFolder))
        {
            foreach (var path in UserFiles())
            {
                // Errors and sources name the file, never the server's path: every role may read them, and the
                // folder is the same for all of them.
                var name = Path.GetFileName(path);
                string source;
                try
                {
                    source = File.ReadAllText(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    var reason = ex.Message.Replace(path, name, StringComparison.Ordinal).Replace(UserFolder, "the profiles folder", StringComparison.Ordinal);
                    errors.Add(new ProfileError(name, 0, $"cannot read: {reason}"));
                    continue;
                }
                Add(name, source, "user");
            }
        }
        return new ProfileSet(profiles.Values.OrderBy(p => p.Profile.Name, StringComparer.Ordinal).ToList(), errors);

        void Add(string file, string source, string origin)
        {
            (Profile? Profile, IReadOnlyList<ProfileError> Errors) parsed;
            try
            {
                parsed = ProfileParser.Parse(source, file);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A parser bug must not turn one bad file into a 500 on every request.
                errors.Add(new ProfileError(file, 0, $"cannot parse: {ex.Message}"));
                return;
            }
            var (profile, problems) = parsed;
            errors.AddRange(problems);
            if (profile is not null)
            {
                var hash = HashOf(source);
                _byHash.TryAdd(hash, profile);
                profiles[profile.Name] = new LoadedProfile(profile, source, hash, origin, file);
            }
        }
    }

    private IEnumerable<string> UserFiles() =>
        Directory.EnumerateFiles(UserFolder, "*.yaml").Concat(Directory.EnumerateFiles(UserFolder, "*.yml")).Order(StringComparer.Ordinal);

    private string Fingerprint()
    {
        if (!Directory.Exists(UserFolder))
        {
            return "";
        }
        var builder = new StringBuilder();
        foreach (var path in UserFiles())
        {
            var info = new FileInfo(path);
            builder.Append(path).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append(';');
        }
        return builder.ToString();
    }

    private static List<(string, string)> LoadBuiltIns()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var list = new List<(string, string)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("profiles/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            list.Add((name, reader.ReadToEnd()));
        }
        return list;
    }
}
