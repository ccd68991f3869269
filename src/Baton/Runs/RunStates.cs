namespace Baton.Runs;

public enum RunStatus
{
    Pending,
    Running,
    AwaitingApproval,
    Paused,
    Completed,
    Failed,
    Cancelled,
    Expired,
}

public enum PhaseStatus
{
    Pending,
    Running,
    AwaitingApproval,
    Completed,
    Failed,
    Skipped,
    Cancelled,
}

/// <summary>Why a run is not moving on its own.</summary>
public enum WaitReason
{
    Gate,
    Budget,
    Manual,
    ChecksFailed,
    External,
}

public static class StateNames
{
    public static string Wire<T>(this T value) where T : struct, Enum => Snake(value.ToString());

    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (candidate.Wire() == text)
            {
                value = candidate;
                return true;
            }
        }
        value = default;
        return false;
    }

    public static T Parse<T>(string text) where T : struct, Enum =>
        TryParse<T>(text, out var value) ? value : throw new FormatException($"unknown {typeof(T).Name} '{text}'");

    public static IEnumerable<string> All<T>() where T : struct, Enum => Enum.GetValues<T>().Select(v => v.Wire());

    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled or RunStatus.Expired;

    /// <summary>
    /// Whether the run can never change again: terminal, and not failed (a failed run can be retried). A run's event
    /// stream ends only then, and its dashboard page stops listening only then.
    /// </summary>
    public static bool IsFinishedForGood(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Cancelled or RunStatus.Expired;

    /// <summary><see cref="IsFinishedForGood(RunStatus)"/> of a status as stored and sent (snake_case).</summary>
    public static bool IsFinishedForGood(string? status) =>
        TryParse<RunStatus>(status, out var parsed) && parsed.IsFinishedForGood();

    private static string Snake(string pascal)
    {
        var builder = new System.Text.StringBuilder();
        for (var i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0)
            {
                builder.Append('_');
            }
            builder.Append(char.ToLowerInvariant(pascal[i]));
        }
        return builder.ToString();
    }
}
