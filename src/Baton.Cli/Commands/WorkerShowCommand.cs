using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton worker show`: one worker's whole definition (secrets only by the name of the variable that holds them).</summary>
public sealed class WorkerShowCommand : ClientCommand
{
    private readonly Argument<string> _worker = new("worker") { Description = "The worker's name or id (wkr_...)" };
    private readonly Option<bool> _json = JsonOption("the worker: worker_id, name, kind, argv, env, secret_env, usage, base_url, model, ...");

    public WorkerShowCommand()
        : base("show", "Show a worker: what it runs, its environment, timeout and concurrency.",
            "baton worker show claude-code",
            "baton worker show claude-code --json | jq .argv")
    {
        Arguments.Add(_worker);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var worker = await client.GetWorkerAsync(parseResult.GetValue(_worker)!, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, worker);
            return ExitCodes.Ok;
        }
        var rows = new List<(string Label, string? Value)>
        {
            ("Worker", $"{worker.WorkerId}  ({worker.Kind})"),
            ("Name", worker.Name),
            ("Argv", worker.Argv is { Count: > 0 } argv ? string.Join(' ', argv.Select(Shell.Quote)) : null),
            ("Env", Pairs(worker.Env, "=")),
            // Where each secret comes from, never a value: the server does not have one to show.
            ("Secret env", Pairs(worker.SecretEnv, " from $")),
            ("Usage", worker.Usage),
            ("Base URL", worker.BaseUrl),
            ("Model", worker.Model),
            ("API key env", worker.ApiKeyEnv),
            ("Prices", worker.InputPricePerMtok is null && worker.OutputPricePerMtok is null
                ? null
                : $"{RunView.Money(worker.InputPricePerMtok ?? 0)} in, {RunView.Money(worker.OutputPricePerMtok ?? 0)} out per million tokens"),
            ("Max tokens", worker.MaxTokens?.ToString(CultureInfo.InvariantCulture)),
            ("System", worker.SystemPrompt is { } system ? RunView.OneLine(system, 100) : null),
            ("Timeout", worker.Timeout ?? "- (a phase's own timeout; 30m for `baton exec run`)"),
            ("Concurrency", worker.Concurrency == 0 ? "no limit" : worker.Concurrency.ToString(CultureInfo.InvariantCulture)),
            ("Created", RunView.Time(worker.CreatedAt)),
        };
        foreach (var (label, value) in rows.Where(r => r.Value is not null))
        {
            terminal.Line((label + ":").PadRight(13), value!);
        }
        return ExitCodes.Ok;
    }

    private static string? Pairs(IReadOnlyDictionary<string, string>? pairs, string separator) =>
        pairs is { Count: > 0 } ? string.Join(", ", pairs.Select(p => p.Key + separator + p.Value)) : null;
}
