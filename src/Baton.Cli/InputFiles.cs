namespace Baton.Cli;

/// <summary>Text files named on the command line (an intake, a prompt, a profile), read with a one-line error.</summary>
public static class InputFiles
{
    /// <summary>
    /// The file's text. A missing file exits 4 (not found), an unreadable one 1; the message starts with
    /// <paramref name="option"/> when the file came from one, so the person sees which of their arguments was wrong.
    /// </summary>
    public static async Task<string> ReadTextAsync(string file, string? option, CancellationToken cancellationToken)
    {
        var prefix = option is null ? "" : option + ": ";
        try
        {
            return await File.ReadAllTextAsync(file, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException($"{prefix}no file {file}", ExitCodes.NotFound);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{prefix}cannot read {file}: {e.Message}");
        }
    }
}
