using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Baton.Profiles;

/// <summary>A YAML syntax error: where (1-based line and column) and what.</summary>
public sealed record YamlSyntaxError(int Line, int Column, string Message);

/// <summary>Loads YAML text (profiles, worker files), turning every syntax error into a position and a message.</summary>
public static class YamlText
{
    public static YamlStream? TryLoad(string yaml, out YamlSyntaxError? error)
    {
        var stream = new YamlStream();
        var scanner = new Scanner(new StringReader(yaml));
        try
        {
            stream.Load(new Parser(scanner));
            error = null;
            return stream;
        }
        catch (YamlException ex)
        {
            error = new YamlSyntaxError((int)ex.Start.Line, (int)ex.Start.Column, ex.InnerException?.Message ?? ex.Message);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet's scanner throws these instead of a YamlException on some broken documents (an unclosed `[`
            // followed by a `key: value` line), with no position: where the scanner stopped is the place to look.
            var at = scanner.CurrentPosition;
            error = new YamlSyntaxError((int)at.Line, (int)at.Column, "cannot read the YAML from here on; look for an unclosed [, { or quote before it");
        }
        return null;
    }
}
