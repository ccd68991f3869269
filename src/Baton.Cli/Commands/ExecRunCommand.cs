using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton exec run`: starts a standalone execution of a worker on a work item (in a workspace of the work item's
/// repository, on branch baton/&lt;execution id&gt;), and with --watch follows its status changes and log lines live.
/// </summary>
public sealed class ExecRunCommand : ClientCommand
{
    private readonly Option<string> _worker = new("--worker") { Description = "The worker's name or id (see `baton worker list`)", Required = true, HelpName = "worker" };
    private readonly Option<string> _workItem = new("--work-item") { Description = "The work item (wki_...; see `baton work-item list`)", Required = true, HelpName = "work-item-id" };
    private readonly Option<string> _prompt = new("--prompt") { Description = "What the agent should do", HelpName = "text" };
    private readonly Option<string> _promptFile = new("--prompt-file") { Description = "Read the prompt from this file", HelpName = "file" };
    private readonly Option<bool> _watch = new("--watch") { Description = "Follow its status and log live until it ends; exit 0 on success, 8 on error or cancellation" };
    private readonly Option<bool> _json = JsonOption("{execution_id}; with --watch, then the ended execution as `exec show --json`");

    public ExecRunCommand()
        : base("run", "Start a worker on a work item outside any run; prints the execution's id.",
            "baton exec run --worker claude-code --work-item wki_01JD3X... --prompt \"Fix the failing test\" --watch",
            "baton exec run --worker aider --work-item wki_01JD3X... --prompt-file task.md",
            "EXE=$(baton exec run --worker codex --work-item wki_01JD3X... --prompt \"Add a changelog\" --json | jq -r .execution_id)")
    {
        Options.Add(_worker);
        Options.Add(_workItem);
        Options.Add(_prompt);
        Options.Add(_promptFile);
        Options.Add(_watch);
        Options.Add(_json);
        Validators.Add(result =>
        {
            var sources = (result.GetValue(_prompt) is not null ? 1 : 0) + (result.GetValue(_promptFile) is not null ? 1 : 0);
            if (sources != 1)
            {
                result.AddError(sources == 0 ? "give the prompt: --prompt TEXT or --prompt-file FILE" : "give the prompt once: --prompt TEXT or --prompt-file FILE, not both");
            }
        });
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var prompt = parseResult.GetValue(_prompt) ?? await InputFiles.ReadTextAsync(parseResult.GetValue(_promptFile)!, "--prompt-file", cancellationToken);
        var started = await client.ExecuteAsync(new ExecuteRequest(parseResult.GetValue(_worker), parseResult.GetValue(_workItem), prompt), cancellationToken);
        var terminal = Terminal.For(parseResult);
        var json = parseResult.GetValue(_json);
        if (json)
        {
            RunView.WriteJson(terminal.Out, started);
        }
        else
        {
            terminal.Line("Started ", new Piece(started.ExecutionId, Tone.Bold), $" ({parseResult.GetValue(_worker)} on {parseResult.GetValue(_workItem)})");
        }
        if (!parseResult.GetValue(_watch))
        {
            if (!json)
            {
                terminal.Line(new Piece($"See it: baton exec show {started.ExecutionId}", Tone.Dim));
            }
            return ExitCodes.Ok;
        }

        // The execution's own event stream: its status changes and log lines as they happen (the client resumes it
        // after a dropped connection), then the ended execution.
        await foreach (var e in client.StreamExecutionEventsAsync(started.ExecutionId, ct: cancellationToken))
        {
            if (!json)
            {
                Tell(terminal, e);
            }
        }
        var execution = await client.GetExecutionAsync(started.ExecutionId, cancellationToken);
        if (json)
        {
            RunView.WriteJson(terminal.Out, execution);
        }
        else
        {
            terminal.Blank();
            ExecutionView.WriteDetail(terminal, execution, diff: false, logs: false);
            terminal.Blank();
            terminal.Line(new Piece(execution.Status == "success"
                ? $"Execution {execution.Id} succeeded."
                : $"Execution {execution.Id} ended: {ExecutionView.Outcome(execution)}", Terminal.ToneOf(execution.Status)));
        }
        return ExitCodes.ForExecution(execution.Status)!.Value;
    }

    /// <summary>A status change as its own line ("running", "error: why"), a log line indented under it.</summary>
    private static void Tell(Terminal terminal, RunEventInfo e)
    {
        if (e.Data is not { ValueKind: System.Text.Json.JsonValueKind.Object } data)
        {
            return;
        }
        if (e.Type == "log" && data.TryGetProperty("message", out var message))
        {
            terminal.Line(new Piece("  " + message.GetString(), Tone.Dim));
        }
        else if (e.Type.StartsWith("execution.", StringComparison.Ordinal) && data.TryGetProperty("status", out var status) && status.GetString() is { } now)
        {
            var error = data.TryGetProperty("error_message", out var why) && why.GetString() is { Length: > 0 } text && text != now ? $": {RunView.OneLine(text, 200)}" : "";
            terminal.Line(new Piece(now + error, Terminal.ToneOf(now)));
        }
    }
}
