using System.CommandLine;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton exec run`: starts a standalone execution of a worker on a work item (in a workspace of the work item's
/// repository, on branch baton/&lt;execution id&gt;), and with --watch waits for its outcome.
/// </summary>
public sealed class ExecRunCommand : ClientCommand
{
    /// <summary>
    /// How often --watch asks: executions have no event stream of their own, and a quarter of a second is quick
    /// enough that a short agent run does not feel slow, and cheap for the server.
    /// </summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Failed polls in a row (the server away) before --watch gives up: about 30 s, on top of the client's retries.</summary>
    private const int MaxOutages = 8;

    private readonly Option<string> _worker = new("--worker") { Description = "The worker's name or id (see `baton worker list`)", Required = true, HelpName = "worker" };
    private readonly Option<string> _workItem = new("--work-item") { Description = "The work item (wki_...; see `baton work-item list`)", Required = true, HelpName = "work-item-id" };
    private readonly Option<string> _prompt = new("--prompt") { Description = "What the agent should do", HelpName = "text" };
    private readonly Option<string> _promptFile = new("--prompt-file") { Description = "Read the prompt from this file", HelpName = "file" };
    private readonly Option<bool> _watch = new("--watch") { Description = "Wait until it ends; exit 0 on success, 8 on error or cancellation" };
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

        var execution = json
            ? await WaitAsync(client, started.ExecutionId, _ => { }, cancellationToken)
            : await terminal.SpinAsync($"{started.ExecutionId}: pending", status => WaitAsync(client, started.ExecutionId, status, cancellationToken));
        if (json)
        {
            RunView.WriteJson(terminal.Out, execution);
        }
        else
        {
            terminal.Blank();
            ExecutionView.WriteDetail(terminal, execution, diff: false);
            terminal.Blank();
            terminal.Line(new Piece(execution.Status == "success"
                ? $"Execution {execution.Id} succeeded."
                : $"Execution {execution.Id} ended: {ExecutionView.Outcome(execution)}", Terminal.ToneOf(execution.Status)));
        }
        return ExitCodes.ForExecution(execution.Status)!.Value;
    }

    private static async Task<ExecutionInfo> WaitAsync(BatonClient client, string id, Action<string> status, CancellationToken ct)
    {
        var outages = 0;
        while (true)
        {
            try
            {
                var execution = await client.GetExecutionAsync(id, ct);
                outages = 0;
                if (ExecutionView.Finished(execution))
                {
                    return execution;
                }
                status($"{id}: {execution.Status}" + (execution.Output.Logs.Count > 0 ? $": {RunView.OneLine(execution.Output.Logs[^1])}" : ""));
            }
            catch (HttpRequestException e) when (e.StatusCode is null && ++outages < MaxOutages)
            {
                // The server is away for a moment (a restart): ask again rather than lose the outcome.
                status($"{id}: waiting for the server");
            }
            await Task.Delay(outages == 0 ? PollInterval : TimeSpan.FromSeconds(Math.Min(outages, 5)), ct);
        }
    }
}
