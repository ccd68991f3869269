using System.Net;

namespace Baton.Cli;

/// <summary>The documented exit codes, so scripts can tell "not found" from "not allowed" without parsing text.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Conflict = 4;
    public const int Auth = 5;

    /// <summary>Ctrl+C: the shell convention (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    public static int ForStatus(HttpStatusCode status) => (int)status switch
    {
        400 => Usage,
        401 or 403 => Auth,
        404 => NotFound,
        409 => Conflict,
        _ => Failure,
    };
}
