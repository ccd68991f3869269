using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton key list`: every API key, with who made it and whether it still works (never the token).</summary>
public sealed class KeyListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{keys[]}");

    public KeyListCommand()
        : base("list", "List API keys: name, role, who created them, expiry and revocation.",
            "baton key list",
            "baton key list --json | jq -r '.keys[] | select(.revoked_at == null) | .name'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListKeysAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        var now = DateTimeOffset.UtcNow;
        Table.Write(terminal,
            ["KEY ID", "NAME", "ROLE", "STATUS", "CREATED", "BY", "EXPIRES"],
            list.Keys.Select(k => new[]
            {
                k.KeyId,
                k.Name,
                k.Role,
                k.RevokedAt is not null ? "revoked" : k.ExpiresAt <= now ? "expired" : "ok",
                RunView.Time(k.CreatedAt),
                k.CreatedBy ?? "-",
                RunView.Time(k.ExpiresAt),
            }));
        return ExitCodes.Ok;
    }
}
