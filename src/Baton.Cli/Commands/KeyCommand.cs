namespace Baton.Cli.Commands;

/// <summary>`baton key ...`: API keys (admin role).</summary>
public sealed class KeyCommand : GroupCommand
{
    public KeyCommand()
        : base("key", "Create, list and revoke API keys (admin role).",
            "baton key create --name ci --role operator",
            "baton key list")
    {
        Subcommands.Add(new KeyCreateCommand());
        Subcommands.Add(new KeyListCommand());
        Subcommands.Add(new KeyRevokeCommand());
    }
}
