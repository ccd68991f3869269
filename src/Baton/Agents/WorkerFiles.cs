using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Client;
using Baton.Storage;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Baton.Agents;

/// <summary>
/// Workers declared as files, `&lt;data dir&gt;/workers/*.yaml` (the same fields as POST /api/workers), loaded at
/// start-up: a file replaces the worker of the same name. A bad file is logged with what is wrong and skipped.
/// </summary>
public static class WorkerFiles
{
    public static async Task<int> LoadAsync(Database db, string folder, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }
        var loaded = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*.yaml").Concat(Directory.EnumerateFiles(folder, "*.yml")).Order(StringComparer.Ordinal))
        {
            var (request, problem) = Read(path);
            if (request is null)
            {
                logger.LogError("Worker file {File}: {Problem}", path, problem);
                continue;
            }
            var (row, errors) = WorkerValidation.Validate(request, time);
            if (row is null)
            {
                logger.LogError("Worker file {File}: {Problems}", path, string.Join(" ", errors.SelectMany(e => e.Value)));
                continue;
            }
            await db.WriteAsync((c, tx) => WorkerStore.UpsertFromFileAsync(c, tx, row), ct);
            loaded++;
        }
        return loaded;
    }

    /// <summary>A worker file is a few lines of YAML; a bigger one is refused rather than read into memory.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    public static (CreateWorkerRequest? Request, string? Problem) Read(string path)
    {
        try
        {
            // Read as the agents' files are: a link in the workers folder is refused, not followed (to /dev/zero, or a secret).
            return Parse(SafeFiles.ReadText(path, MaxFileBytes));
        }
        catch (UnsafeFileException ex)
        {
            return (null, $"the file {ex.Why}; a worker file is a regular file of at most {SafeFiles.Size(MaxFileBytes)}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, ex.Message);
        }
    }

    /// <summary>A worker from YAML text: the request, or what is wrong with it (with the line, where YAML says).</summary>
    public static (CreateWorkerRequest? Request, string? Problem) Parse(string yaml)
    {
        try
        {
            if (Profiles.YamlText.TryLoad(yaml, out var syntax) is not { } stream)
            {
                return (null, $"line {syntax!.Line}, column {syntax.Column}: {syntax.Message}");
            }
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                return (null, "a worker file is a YAML mapping (name, kind, argv or base_url, ...)");
            }
            var request = ToJson(root).Deserialize<CreateWorkerRequest>(Strict);
            return request is null ? (null, "empty") : (request, null);
        }
        catch (JsonException ex)
        {
            var field = ex.Path?.TrimStart('$', '.') ?? "";
            return (null, ex.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? $"unknown field '{field}'"
                : $"{field}: wrong type of value");
        }
    }

    private static readonly JsonSerializerOptions Strict = new(BatonJson.Options)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>YAML to JSON by node type: unquoted scalars that read as numbers or booleans become them.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", ToJson(kv.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: var v } when v is null or "" or "~" or "null" => null,
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } b => JsonValue.Create(b.Value == "true"),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: var v } when decimal.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) => JsonValue.Create(n),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };
}
