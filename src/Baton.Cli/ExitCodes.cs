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

    // `run watch` and `run create --watch`: how the run stopped, when it did not complete (8 also for `exec run --watch`).

    /// <summary>The run waits for a human decision: a gate or a budget stop (awaiting_approval).</summary>
    public const int AwaitingApproval = 6;

    /// <summary>The run is paused: a manual-mode run waiting for `next`.</summary>
    public const int Paused = 7;

    /// <summary>The run ended without completing: failed, cancelled or expired; or an execution ended in error or was cancelled.</summary>
    public const int RunUnsuccessful = 8;

    /// <summary>Ctrl+C: the shell convention (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    public static int ForStatus(HttpStatusCode status) => (int)status switch
    {
        400 or 413 => Usage,
        401 or 403 => Auth,
        404 => NotFound,
        409 => Conflict,
        _ => Failure,
    };

    /// <summary>What `run watch` exits with once the run is in <paramref name="runStatus"/>; null while it is still going.</summary>
    public static int? ForRun(string runStatus) => runStatus switch
    {
        "completed" => Ok,
        "awaiting_approval" => AwaitingApproval,
        "paused" => Paused,
        "failed" or "cancelled" or "expired" => RunUnsuccessful,
        _ => null,
    };

    /// <summary>What `exec run --watch` exits with once the execution is in <paramref name="executionStatus"/>; null while it is still going.</summary>
    public static int? ForExecution(string executionStatus) => executionStatus switch
    {
        "success" => Ok,
        "error" or "cancelled" => RunUnsuccessful,
        _ => null,
    };
}
