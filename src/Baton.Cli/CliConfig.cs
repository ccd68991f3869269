using System.Text.Json;
using System.Text.Json.Serialization;

namespace Baton.Cli;

/// <summary>A named server and, optionally, the key to use with it.</summary>
public sealed record ContextEntry(string Url, string? Token);

/// <summary>
/// The `baton` config file: named contexts (a server URL and a key) and the one in use, so people who work with
/// several Baton servers switch with `baton context use` instead of exporting variables. It holds keys, so it is
/// written readable by its owner only.
/// </summary>
public sealed class CliConfig
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public string? CurrentContext { get; set; }

    public SortedDictionary<string, ContextEntry> Contexts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>BATON_CONFIG, else $XDG_CONFIG_HOME/baton/config.json, else ~/.config/baton/config.json; null without a home.</summary>
    public static string? PathFrom(Func<string, string?> environment)
    {
        if (environment("BATON_CONFIG") is { Length: > 0 } explicitPath)
        {
            return Path.GetFullPath(explicitPath);
        }
        var configHome = environment("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg
            : environment("HOME") is { Length: > 0 } home ? Path.Combine(home, ".config")
            : null;
        return configHome is null ? null : Path.Combine(configHome, "baton", "config.json");
    }

    /// <summary>The file at <paramref name="path"/>; an empty config when there is none yet.</summary>
    public static CliConfig Load(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return new CliConfig();
        }
        try
        {
            var config = JsonSerializer.Deserialize<CliConfig>(File.ReadAllText(path), Json) ?? new CliConfig();
            config.Contexts = new SortedDictionary<string, ContextEntry>(config.Contexts ?? [], StringComparer.Ordinal);
            return config;
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not a valid baton config file ({e.Message}); fix or delete it");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {path}: {e.Message}");
        }
    }

    /// <summary>Writes the whole file anew (a temp file moved into place, so a crash never leaves half a file), mode 0600.</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(JsonSerializer.Serialize(this, Json));
            writer.WriteLine();
        }
        File.Move(temp, path, overwrite: true);
    }
}
