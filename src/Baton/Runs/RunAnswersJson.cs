using System.Text.Json;
using System.Text.Json.Serialization;
using Baton.Client;

namespace Baton.Runs;

/// <summary>
/// The runs list and a run's detail, the answers dashboards and CLIs poll most, written by System.Text.Json's
/// source-generated serializers: straight-line code per property instead of the reflection-built metadata loop, which
/// was the largest part of a list's CPU after its read (docs/BENCHMARKS.md, session 15).
/// </summary>
/// <remarks>
/// The same JSON as <see cref="BatonJson.Options"/> writes (a test compares them): snake_case names, dictionary keys as
/// they are. The generated code runs only with options that have no converters of their own, so these answers carry
/// this context's options rather than the API's, whose enum converter would switch it off; neither type has an enum.
/// </remarks>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RunList))]
[JsonSerializable(typeof(RunDetail))]
internal sealed partial class RunAnswersJson : JsonSerializerContext;
