namespace Baton.Cli.Commands;

/// <summary>`baton context ...`: named servers in the config file.</summary>
public sealed class ContextCommand : GroupCommand
{
    public ContextCommand()
        : base("context", "Save Baton servers (URL and key) under names and switch between them.",
            "baton context add prod --url https://baton.example.com --token \"$TOKEN\"",
            "baton context use prod")
    {
        Subcommands.Add(new ContextAddCommand());
        Subcommands.Add(new ContextUseCommand());
        Subcommands.Add(new ContextListCommand());
        Subcommands.Add(new ContextRemoveCommand());
    }

    /// <summary>The config file the context commands edit, or a usage error when there is no home folder to keep it in.</summary>
    public static string ConfigPath() =>
        CliConfig.PathFrom(Environment.GetEnvironmentVariable) ?? throw new CliException("no config file location: set BATON_CONFIG (or HOME)", ExitCodes.Usage);
}
