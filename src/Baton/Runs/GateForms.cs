using System.Globalization;
using System.Text.Json;
using Baton.Profiles;

namespace Baton.Runs;

/// <summary>A gate form's values: checked against the field's type, and written into later phases' templates.</summary>
public static class GateForms
{
    /// <summary>The form's fields as the API shows them, in a run's open gate and in its profile.</summary>
    public static List<Client.GateInputInfo> Describe(IEnumerable<GateInput> inputs) =>
        inputs.Select(i => new Client.GateInputInfo(i.Name, i.Type.ToString().ToLowerInvariant(), i.Required, i.Description, i.Type == GateInputType.Enum ? i.Values : null)).ToList();

    /// <summary>What is wrong with <paramref name="value"/> for <paramref name="field"/>, or null when it fits.</summary>
    public static string? Check(GateInput field, JsonElement value) => field.Type switch
    {
        _ when value.ValueKind == JsonValueKind.Null => null,
        GateInputType.String or GateInputType.Text when value.ValueKind != JsonValueKind.String => $"must be text (a JSON string), not {Kind(value)}",
        GateInputType.String when value.GetString()!.Length > GateInput.MaxStringLength => $"is longer than {GateInput.MaxStringLength} characters (a string field; use type text for more)",
        GateInputType.String when value.GetString()!.Contains('\n') => "is one line (a string field; use type text for several)",
        GateInputType.Text when value.GetString()!.Length > GateInput.MaxTextLength => $"is longer than {GateInput.MaxTextLength} characters",
        GateInputType.Number when value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var n) || !double.IsFinite(n) => $"must be a number, not {Kind(value)}",
        GateInputType.Boolean when value.ValueKind is not (JsonValueKind.True or JsonValueKind.False) => $"must be true or false, not {Kind(value)}",
        GateInputType.Enum when value.ValueKind != JsonValueKind.String || !field.Values.Contains(value.GetString()!) =>
            $"must be one of: {string.Join(", ", field.Values)}",
        _ => null,
    };

    /// <summary>A value as a template shows it: text as it is, a number or boolean as JSON writes it.</summary>
    public static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "",
    };

    /// <summary>`key=value` pairs (the CLI's --input, a dashboard form) as JSON values of the fields' types; a value that does not parse stays text, for the server to refuse.</summary>
    public static JsonElement Parse(GateInput? field, string text) => field?.Type switch
    {
        GateInputType.Number when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) => JsonSerializer.SerializeToElement(n),
        GateInputType.Boolean when bool.TryParse(text, out var b) => JsonSerializer.SerializeToElement(b),
        _ => JsonSerializer.SerializeToElement(text),
    };

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "text",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
