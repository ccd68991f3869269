namespace Baton.Cli.Commands;

/// <summary>`baton profile ...`: the workflow definitions runs follow.</summary>
public sealed class ProfileCommand : GroupCommand
{
    public ProfileCommand()
        : base("profile", "List, show and validate profiles (workflow definitions).",
            "baton profile list",
            "baton profile validate my_flow.yaml")
    {
        Subcommands.Add(new ProfileListCommand());
        Subcommands.Add(new ProfileShowCommand());
        Subcommands.Add(new ProfileValidateCommand());
    }
}
