using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton;

/// <summary>RFC 9457 problem+json for every error: one shape for clients, never a stack trace.</summary>
public static class Problems
{
    public static ProblemHttpResult NotFound(string what, string id) =>
        TypedResults.Problem(statusCode: 404, title: "Not found", detail: $"no {what} '{id}'");

    public static ProblemHttpResult Conflict(string detail, string? currentStatus = null) =>
        TypedResults.Problem(statusCode: 409, title: "Conflict", detail: detail,
            extensions: currentStatus is null ? null : new Dictionary<string, object?> { ["current_status"] = currentStatus });

    public static ProblemHttpResult TooLarge(string detail) =>
        TypedResults.Problem(statusCode: 413, title: "Payload too large", detail: detail);

    public static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid input", detail: message);

    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid input", detail: string.Join(" ", errors.SelectMany(e => e.Value)));

    public static Task WriteAsync(HttpContext context, int status, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        context.Response.StatusCode = status;
        var body = new Dictionary<string, object?>
        {
            ["type"] = $"https://tools.ietf.org/html/rfc9110#section-15.{(status >= 500 ? 6 : 5)}.{StatusSection(status)}",
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
        };
        if (errors is not null)
        {
            body["errors"] = errors;
        }
        return context.Response.WriteAsJsonAsync(body, (JsonSerializerOptions?)null, "application/problem+json", context.RequestAborted);
    }

    private static int StatusSection(int status) => status switch
    {
        400 => 1,
        401 => 2,
        403 => 4,
        404 => 5,
        409 => 10,
        413 => 14,
        415 => 16,
        503 => 4,
        429 => 1,
        _ => 1,
    };
}

/// <summary>
/// Turns what the framework throws for bad input (malformed JSON, wrong types, oversized bodies) into a 4xx
/// problem with the offending field; anything else is a 500 with no internals in the body.
/// </summary>
public sealed class BadInputExceptionHandler(ILogger<BadInputExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case BadHttpRequestException bad:
                var json = FindJsonException(bad);
                var field = json?.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
                var detail = json is null ? bad.Message : $"malformed JSON at {json.Path ?? "$"}: {FirstSentence(json.Message)}";
                await Problems.WriteAsync(context, bad.StatusCode, bad.StatusCode == 413 ? "Payload too large" : "Invalid input", detail,
                    bad.StatusCode == 400 ? new Dictionary<string, string[]> { [field] = [detail] } : null);
                return true;
            case Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.CharacterNotInRepertoire or Npgsql.PostgresErrorCodes.UntranslatableCharacter }:
                // PostgreSQL text cannot hold the NUL character (SQLite's can): input that holds one is refused whole.
                const string nul = "text must not contain the NUL character (U+0000)";
                if (context.Request.Path.StartsWithSegments("/api"))
                {
                    await Problems.WriteAsync(context, 400, "Invalid input", nul);
                }
                else
                {
                    await Dashboard.DashboardPages.Render<Dashboard.Components.MessagePage>(new { Heading = "Invalid input", Message = nul + "." }, 400).ExecuteAsync(context);
                }
                return true;
            case Npgsql.NpgsqlException { IsTransient: true } unavailable:
                // The database is down or failing over (PostgresDatabase already retried the write): try again soon.
                logger.LogWarning(unavailable, "Database unavailable on {Method} {Path}", context.Request.Method, context.Request.Path);
                context.Response.Headers.RetryAfter = "1";
                await Problems.WriteAsync(context, 503, "Service unavailable", "the database is unavailable; try again shortly");
                return true;
            case Runs.ConcurrencyConflictException conflict:
                await Problems.WriteAsync(context, 409, "Conflict", conflict.Message);
                return true;
            default:
                logger.LogError(exception, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
                await Problems.WriteAsync(context, 500, "Internal error", "something went wrong on the server; it has been logged");
                return true;
        }
    }

    private static JsonException? FindJsonException(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json;
            }
        }
        return null;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return cut > 0 ? message[..(cut + 1)] : message;
    }
}
