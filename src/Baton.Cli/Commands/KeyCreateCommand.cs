using System.CommandLine;
using System.Text.RegularExpressions;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton key create`: a new API key; its token is shown this once.</summary>
public sealed partial class KeyCreateCommand : ClientCommand
{
    private readonly Option<string> _name = new("--name") { Description = "Who or what uses the key; the event log records it as the actor", Required = true, HelpName = "name" };
    private readonly Option<string> _role = new("--role") { Description = "viewer, operator, approver or admin", Required = true, HelpName = "role" };

    private readonly Option<TimeSpan?> _expiresIn = new("--expires-in")
    {
        Description = "The key stops working after this long: 30m, 12h, 90d",
        HelpName = "duration",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            var match = DurationPattern().Match(text);
            if (match.Success && long.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
            {
                return match.Groups[2].Value switch
                {
                    "m" => TimeSpan.FromMinutes(n),
                    "h" => TimeSpan.FromHours(n),
                    _ => TimeSpan.FromDays(n),
                };
            }
            result.AddError($"--expires-in must be a number of minutes, hours or days such as 30m, 12h or 90d, not '{text}'");
            return null;
        },
    };

    private readonly Option<string[]> _groups = new("--group")
    {
        Description = "A group the key belongs to (repeat for several), which a gate's approvers can name as group:NAME",
        HelpName = "name",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<bool> _json = JsonOption("{key_id, name, role, token, created_at, expires_at, groups}");

    public KeyCreateCommand()
        : base("create", "Create an API key; its token is printed once and never again.",
            "baton key create --name ci --role operator",
            "baton key create --name alice --role approver --expires-in 90d",
            "export BATON_TOKEN=$(baton key create --name bot --role viewer --json | jq -r .token)")
    {
        _role.AcceptOnlyFromAmong("viewer", "operator", "approver", "admin");
        Options.Add(_name);
        Options.Add(_role);
        Options.Add(_expiresIn);
        Options.Add(_groups);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var expiresAt = parseResult.GetValue(_expiresIn) is { } lifetime ? DateTimeOffset.UtcNow + lifetime : (DateTimeOffset?)null;
        var key = await client.CreateKeyAsync(new CreateKeyRequest(parseResult.GetValue(_name), parseResult.GetValue(_role), expiresAt,
            parseResult.GetValue(_groups) is { Length: > 0 } groups ? groups : null), cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, key);
            return ExitCodes.Ok;
        }
        terminal.Line($"Created key {key.KeyId} '{key.Name}' ({key.Role})" + (key.ExpiresAt is { } at ? $", expires {RunView.Time(at)}" : "") + ".");
        terminal.Line(new Piece("Token (shown once; store it now):", Tone.Warn));
        terminal.Line(new Piece(key.Token, Tone.Bold));
        return ExitCodes.Ok;
    }

    [GeneratedRegex("^([0-9]+)([mhd])$")]
    private static partial Regex DurationPattern();
}
