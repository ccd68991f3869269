using Microsoft.Extensions.Logging.Console;

namespace Baton.Ops;

/// <summary>
/// Log output (issue 14): `BATON_LOG_FORMAT=json` writes one JSON object a line (the console's JSON formatter, UTC
/// times, with scopes), for a log shipper; anything else keeps the readable text. Engine logs of a phase carry its
/// run_id, execution_id and phase as a scope (<see cref="ExecutionLogScope"/>). Either way the output is redacted
/// (<see cref="RedactingConsoleFormatter"/>).
/// </summary>
public static partial class Logs
{
    public const string FormatSetting = "BATON_LOG_FORMAT";

    public static IServiceCollection AddBatonLogFormat(this IServiceCollection services)
    {
        // From the final configuration, when the console logger is first made (tests and hosts add settings late).
        services.AddOptions<ConsoleLoggerOptions>().Configure<IConfiguration>((o, config) =>
        {
            if (string.Equals(config[FormatSetting], "json", StringComparison.OrdinalIgnoreCase))
            {
                o.FormatterName = ConsoleFormatterNames.Json;
            }
            // Whichever standard format is chosen, its redacting wrapper writes it (ADR 40).
            var format = o.FormatterName ?? ConsoleFormatterNames.Simple;
            if (RedactingConsoleFormatter.Wrapped.Contains(format, StringComparer.OrdinalIgnoreCase))
            {
                o.FormatterName = RedactingConsoleFormatter.Prefix + format.ToLowerInvariant();
            }
        });
        foreach (var format in RedactingConsoleFormatter.Wrapped)
        {
            services.AddSingleton<ConsoleFormatter>(sp => new RedactingConsoleFormatter(format, sp, Redactor.Process));
        }
        services.Configure<JsonConsoleFormatterOptions>(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
        });
        return services;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} of phase {Phase} (worker {Worker}) ended: {Status} after {DurationMs} ms")]
    public static partial void ExecutionEnded(this ILogger logger, string executionId, string phase, string worker, string status, long durationMs);

    /// <summary>Why an attempt failed, as recorded (redacted, ADR 40): the agent's error or the check's.</summary>
    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} of phase {Phase} (worker {Worker}) failed: {Error}")]
    public static partial void ExecutionFailed(this ILogger logger, string executionId, string phase, string worker, string error);
}

/// <summary>A phase execution's scope: its fields as properties in JSON logs, and one short line in text logs.</summary>
public sealed class ExecutionLogScope(string runId, string executionId, string phase) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _fields = [new("run_id", runId), new("execution_id", executionId), new("phase", phase)];

    public int Count => _fields.Length;

    public KeyValuePair<string, object?> this[int index] => _fields[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"run {_fields[0].Value} execution {_fields[1].Value} phase {_fields[2].Value}";
}
