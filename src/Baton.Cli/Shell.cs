namespace Baton.Cli;

/// <summary>Paths worded so they can be pasted into a POSIX shell as they are.</summary>
public static class Shell
{
    /// <summary>Relative to the current folder when inside it (shorter, and what people typed), else absolute.</summary>
    public static string Path(string fullPath)
    {
        var relative = System.IO.Path.GetRelativePath(Environment.CurrentDirectory, fullPath);
        var shown = relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(relative) ? fullPath : relative;
        return Quote(shown);
    }

    public static string Quote(string text) =>
        text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ':' or '=' or ',' or '@')
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
