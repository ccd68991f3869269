using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton key revoke`: the key stops working at once, even on streams it has open.</summary>
public sealed class KeyRevokeCommand : ClientCommand
{
    private readonly Argument<string> _key = new("key-id") { Description = "The key (key_...; see `baton key list`)" };

    public KeyRevokeCommand()
        : base("revoke", "Revoke an API key at once.",
            "baton key revoke key_01JD3X...")
    {
        Arguments.Add(_key);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var id = parseResult.GetValue(_key)!;
        await client.RevokeKeyAsync(id, cancellationToken);
        Terminal.For(parseResult).Line($"Revoked {id}.");
        return ExitCodes.Ok;
    }
}
