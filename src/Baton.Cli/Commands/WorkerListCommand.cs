using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton worker list`: the server's workers and what each runs.</summary>
public sealed class WorkerListCommand : ClientCommand
{
    private readonly Option<bool> _json = JsonOption("{workers[]}");

    public WorkerListCommand()
        : base("list", "List the server's workers: name, kind, what they run and how many at once.",
            "baton worker list",
            "baton worker list --json | jq -r '.workers[] | select(.kind == \"command\") | .name'")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var list = await client.ListWorkersAsync(cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.Workers.Count == 0)
        {
            // The built-in ones have no row, so an empty list would otherwise read as "no worker can run".
            terminal.Line("No workers; phases can still use the built-in template and external. Add one: baton worker create --file worker.yaml");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["WORKER ID", "NAME", "KIND", "CONCURRENCY", "CREATED", "RUNS"],
            list.Workers.Select(w => new[]
            {
                w.WorkerId,
                w.Name,
                w.Kind,
                w.Concurrency == 0 ? "no limit" : w.Concurrency.ToString(CultureInfo.InvariantCulture),
                RunView.Time(w.CreatedAt),
                RunView.OneLine(Runs(w)),
            }));
        return ExitCodes.Ok;
    }

    /// <summary>What the worker runs: its command line, or its model and endpoint.</summary>
    public static string Runs(WorkerInfo worker) => worker switch
    {
        { Argv.Count: > 0 } => string.Join(' ', worker.Argv.Select(Shell.Quote)),
        { Model: { } model } => $"{model} at {worker.BaseUrl}",
        _ => "-",
    };
}
