namespace Baton.Cli;

/// <summary>A failure already worded for the user: printed as one line, and the process exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.Failure) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
