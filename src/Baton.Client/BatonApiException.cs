using System.Net;

namespace Baton.Client;

/// <summary>A problem+json answer from the API, with its field errors.</summary>
public sealed class BatonApiException(HttpStatusCode status, string title, string? detail, IReadOnlyDictionary<string, string[]> errors, string? currentStatus)
    : Exception(detail is null ? $"{(int)status} {title}" : $"{(int)status} {title}: {detail}")
{
    public HttpStatusCode Status { get; } = status;
    public string Title { get; } = title;
    public string? Detail { get; } = detail;

    /// <summary>Per field (snake_case, or a header name such as Idempotency-Key): what is wrong with it.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;

    /// <summary>For 409: the run's status when the request was refused.</summary>
    public string? CurrentStatus { get; } = currentStatus;

    /// <summary>For 429 and 503: how long the server asked to wait, when it said.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
