using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run logs`: the run's last log lines, and with --follow the new ones as they come.</summary>
public sealed class RunLogsCommand : ClientCommand
{
    /// <summary>The API has no "lines after" query, so --follow asks for the newest lines this often and prints the unseen ones.</summary>
    private static readonly TimeSpan FollowInterval = TimeSpan.FromSeconds(1);

    /// <summary>Lines asked for per poll while following: more than an agent writes in one interval.</summary>
    private const int FollowBatch = 1000;

    private readonly Argument<string> _run = RunIdArgument();
    private readonly Option<int?> _lines = WholeNumber("--lines", "How many of the last lines to show, 1 to 10000 [default: 50]");
    private readonly Option<bool> _follow = new("--follow", "-F") { Description = "Keep printing new lines until the run finishes (Ctrl+C to stop)" };
    private readonly Option<bool> _json = JsonOption("{run_id, lines[]}; with --follow, one line object per line");

    public RunLogsCommand()
        : base("logs", "Show a run's log: what its phases and agents wrote.",
            "baton run logs run_01JD3X...",
            "baton run logs run_01JD3X... --lines 200 --follow")
    {
        _lines.Aliases.Add("-n");
        Arguments.Add(_run);
        Options.Add(_lines);
        Options.Add(_follow);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var runId = parseResult.GetValue(_run)!;
        var json = parseResult.GetValue(_json);
        var terminal = Terminal.For(parseResult);
        var logs = await client.GetLogsAsync(runId, parseResult.GetValue(_lines) ?? 50, cancellationToken);
        if (!parseResult.GetValue(_follow))
        {
            if (json)
            {
                RunView.WriteJson(terminal.Out, logs);
            }
            else
            {
                logs.Lines.ToList().ForEach(line => Write(terminal, line));
            }
            return ExitCodes.Ok;
        }

        var last = Print(terminal, logs.Lines, 0, json);
        while (true)
        {
            // Read the status before the lines: lines written up to a run's end are then all in the last read.
            var finished = (await client.GetRunAsync(runId, cancellationToken)).Status is "completed" or "failed" or "cancelled" or "expired";
            last = Print(terminal, (await client.GetLogsAsync(runId, FollowBatch, cancellationToken)).Lines, last, json);
            if (finished)
            {
                return ExitCodes.Ok;
            }
            await Task.Delay(FollowInterval, cancellationToken);
        }
    }

    private static long Print(Terminal terminal, IReadOnlyList<LogLine> lines, long after, bool json)
    {
        foreach (var line in lines.Where(l => l.Seq > after))
        {
            if (json)
            {
                RunView.WriteJson(terminal.Out, line);
            }
            else
            {
                Write(terminal, line);
            }
            after = line.Seq;
        }
        return after;
    }

    private static void Write(Terminal terminal, LogLine line)
    {
        var tone = line.Level switch
        {
            "error" => Tone.Bad,
            "warn" or "warning" => Tone.Warn,
            "debug" => Tone.Dim,
            _ => Tone.Plain,
        };
        terminal.Line(
            new Piece(RunView.Time(line.Timestamp) + "  ", Tone.Dim),
            new Piece((line.Phase ?? "-").PadRight(16) + " ", Tone.Bold),
            new Piece(line.Level.PadRight(5) + " ", tone),
            line.Message);
    }
}
