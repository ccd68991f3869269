using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run approve`: approves the gate (or budget stop) a run waits at, with the gate form's values.</summary>
public sealed class RunApproveCommand : RunActionCommand
{
    private readonly Option<string> _comment = new("--comment", "-m") { Description = "A note kept with the approval", HelpName = "text" };

    private readonly Option<string[]> _inputs = new("--input", "-i")
    {
        Description = "A value of the gate's form, as field=value (repeat for each field); numbers and booleans as the form's types say",
        HelpName = "field=value",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string> _digest = new("--digest")
    {
        Description = "Approve only what you reviewed: the gate's digest (`baton run show --json` prints gate.digest); a changed gate exits 4",
        HelpName = "sha256:...",
    };

    public RunApproveCommand()
        : base("approve", "Approve the gate or budget stop a run is waiting at.",
            "baton run approve run_01JD3X...",
            "baton run approve run_01JD3X... --comment \"Design is sound\" --if-version 7",
            "baton run approve run_01JD3X... --input ticket=CHG-42 --input risk=low --digest sha256:3f...")
    {
        Options.Add(_comment);
        Options.Add(_inputs);
        Options.Add(_digest);
        AddSharedOptions();
    }

    protected override string Done => "Approved";

    protected override async Task<RunDetail> ActAsync(ParseResult parseResult, BatonClient client, string runId, long? version, CancellationToken cancellationToken)
    {
        var pairs = parseResult.GetValue(_inputs) ?? [];
        // The form's types come from the gate itself, so `hours=2` is sent as a number and `urgent=true` as a boolean.
        var gate = pairs.Length == 0 ? null : (await client.GetRunAsync(runId, cancellationToken)).Gate;
        return await client.ApproveAsync(runId, new ApproveRequest(parseResult.GetValue(_comment), parseResult.GetValue(_digest), FormValues(gate, pairs)), version, cancellationToken);
    }

    /// <summary>field=value pairs as the JSON the gate's fields take; a value that does not parse as its type is sent as text, for the server to name.</summary>
    public static Dictionary<string, JsonElement>? FormValues(OpenGate? gate, IReadOnlyList<string> pairs)
    {
        if (pairs.Count == 0)
        {
            return null;
        }
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException($"--input '{pair}' is not field=value", ExitCodes.Usage);
            }
            var (name, text) = (pair[..equals], pair[(equals + 1)..]);
            values[name] = gate?.Inputs.FirstOrDefault(i => i.Name == name)?.Type switch
            {
                "number" when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) => JsonSerializer.SerializeToElement(n),
                "boolean" when bool.TryParse(text, out var b) => JsonSerializer.SerializeToElement(b),
                _ => JsonSerializer.SerializeToElement(text),
            };
        }
        return values;
    }
}
