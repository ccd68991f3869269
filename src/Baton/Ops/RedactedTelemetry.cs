using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry;

namespace Baton.Ops;

/// <summary>
/// Spans leave redacted (ADR 40): their string attributes, status description and name, as each span ends, before the
/// export processor (added after this one) sees it. Baton's spans add no events; an instrumentation's exception event
/// (off by default: RecordException) could not be rewritten, as an Activity's events are read-only.
/// </summary>
public sealed class RedactingSpanProcessor(Redactor redactor) : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        List<(string Key, string Value)>? changed = null;
        foreach (var (key, value) in data.TagObjects)
        {
            if (value is string text && redactor.Redact(text) is var redacted && !ReferenceEquals(redacted, text))
            {
                (changed ??= []).Add((key, redacted));
            }
        }
        foreach (var (key, value) in changed ?? [])
        {
            data.SetTag(key, value);
        }
        if (data.StatusDescription is { } description && redactor.Redact(description) is var status && !ReferenceEquals(status, description))
        {
            data.SetStatus(data.Status, status);
        }
        data.DisplayName = redactor.Redact(data.DisplayName);
    }
}

/// <summary>
/// Baton's own logs leave redacted (ADR 40): a console formatter that lets the standard one (<paramref name="innerName"/>:
/// json, simple or systemd) write the entry, message, state, scopes and exception alike, and redacts what it wrote.
/// </summary>
public sealed class RedactingConsoleFormatter(string innerName, IServiceProvider services, Redactor redactor) : ConsoleFormatter(Prefix + innerName)
{
    public const string Prefix = "baton-";

    /// <summary>The standard formatters this one wraps; the console logger is told the wrapper's name instead.</summary>
    public static readonly string[] Wrapped = [ConsoleFormatterNames.Json, ConsoleFormatterNames.Simple, ConsoleFormatterNames.Systemd];

    // Found on first use: the formatters are the console logger's, made with this one.
    private ConsoleFormatter? _inner;

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        _inner ??= services.GetServices<ConsoleFormatter>().First(f => f.Name == innerName && f is not RedactingConsoleFormatter);
        using var entry = new StringWriter();
        _inner.Write(in logEntry, scopeProvider, entry);
        textWriter.Write(redactor.Redact(entry.ToString()));
    }
}
