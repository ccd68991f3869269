using System.CommandLine;
using Spectre.Console;

namespace Baton.Cli;

/// <summary>How a piece of output should stand out, when the output is for a person.</summary>
public enum Tone
{
    Plain,
    Good,
    Warn,
    Bad,
    Info,
    Dim,
    Bold,
}

/// <summary>A piece of a line and its tone.</summary>
public readonly record struct Piece(string Text, Tone Tone = Tone.Plain)
{
    public static implicit operator Piece(string text) => new(text);
}

/// <summary>
/// Where a command's output goes. For a person at a terminal (stdout is a TTY, NO_COLOR unset, TERM not dumb)
/// it has colour and spinners, through Spectre.Console; for pipes, files and tests it is plain text with the same
/// words, so scripts and greps see exactly what people read.
/// </summary>
public sealed class Terminal
{
    private readonly IAnsiConsole? _console;

    private Terminal(TextWriter output, TextWriter error, IAnsiConsole? console)
    {
        Out = output;
        Error = error;
        _console = console;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>Colour and live progress are on.</summary>
    public bool Interactive => _console is not null;

    public static Terminal For(ParseResult parseResult) => For(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);

    public static Terminal For(TextWriter output, TextWriter error)
    {
        var person = ReferenceEquals(output, Console.Out)
            && !Console.IsOutputRedirected
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
            && Environment.GetEnvironmentVariable("TERM") is not "dumb";
        return new Terminal(output, error, person ? PersonConsole() : null);
    }

    /// <summary>
    /// Spectre.Console on stdout, told the screen is wider than it is: it would otherwise break lines (table rows)
    /// at the terminal's width itself. Lines longer than the screen wrap in the terminal, as plain output does.
    /// </summary>
    private static IAnsiConsole PersonConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        console.Profile.Width = 1024;
        return console;
    }

    /// <summary>A line for people. Its text may come from agents and repositories: control sequences are dropped.</summary>
    public void Line(params Piece[] pieces)
    {
        if (_console is null)
        {
            Out.WriteLine(string.Concat(pieces.Select(p => TerminalText.Clean(p.Text))));
            return;
        }
        _console.MarkupLine(string.Concat(pieces.Select(p => Markup(p))));
    }

    public void Blank() => Line();

    /// <summary>
    /// Runs <paramref name="work"/> under a spinner showing a status it can update; lines written meanwhile appear
    /// above the spinner. Without a terminal there is no spinner and the status is not shown at all.
    /// </summary>
    public async Task<T> SpinAsync<T>(string status, Func<Action<string>, Task<T>> work)
    {
        if (_console is null)
        {
            return await work(_ => { });
        }
        return await _console.Status()
            .Spinner(Spinner.Known.Dots)
            .StartAsync(Spectre.Console.Markup.Escape(status), ctx => work(text => ctx.Status(Spectre.Console.Markup.Escape(text))));
    }

    /// <summary>The tone people expect for a run, phase or execution status.</summary>
    public static Tone ToneOf(string status) => status switch
    {
        "completed" or "success" or "approved" or "ok" => Tone.Good,
        "awaiting_approval" or "paused" or "pending" => Tone.Warn,
        "failed" or "error" or "cancelled" or "expired" or "rejected" => Tone.Bad,
        "running" => Tone.Info,
        "skipped" => Tone.Dim,
        _ => Tone.Plain,
    };

    private static string Markup(Piece piece)
    {
        var text = Spectre.Console.Markup.Escape(TerminalText.Clean(piece.Text));
        return piece.Tone switch
        {
            Tone.Good => $"[green]{text}[/]",
            Tone.Warn => $"[yellow]{text}[/]",
            Tone.Bad => $"[red]{text}[/]",
            Tone.Info => $"[cyan]{text}[/]",
            Tone.Dim => $"[grey]{text}[/]",
            Tone.Bold => $"[bold]{text}[/]",
            _ => text,
        };
    }
}
