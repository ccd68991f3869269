using System.CommandLine;
using Baton.Agents;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton worker create --file`: a worker from a YAML file with the fields of docs/workers/*.yaml, read by the same
/// code the server uses for &lt;data dir&gt;/workers, so a file that works here works there and the other way round.
/// </summary>
public sealed class WorkerCreateCommand : ClientCommand
{
    private readonly Option<string> _file = new("--file", "-f")
    {
        Description = "The worker's YAML file (name, kind, argv or base_url and model, ...); - reads it from standard input",
        Required = true,
        HelpName = "file",
    };

    private readonly Option<bool> _json = JsonOption("the created worker");

    public WorkerCreateCommand()
        : base("create", "Create a worker from a YAML file (admin role).",
            "baton worker create --file docs/workers/claude-code.yaml",
            "sed 's/qwen2.5-coder:7b/llama3.1:8b/' docs/workers/ollama.yaml | baton worker create --file -")
    {
        Options.Add(_file);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var file = parseResult.GetValue(_file)!;
        var request = await ReadAsync(file, cancellationToken);
        var worker = await client.CreateWorkerAsync(request, cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, worker);
            return ExitCodes.Ok;
        }
        terminal.Line($"Created worker {worker.WorkerId} '{worker.Name}' ({worker.Kind}): {RunView.OneLine(WorkerListCommand.Runs(worker), 100)}");
        terminal.Line(new Piece($"Use it: worker: {worker.Name} in a profile phase, or baton exec run --worker {worker.Name} ...", Tone.Dim));
        return ExitCodes.Ok;
    }

    private static async Task<CreateWorkerRequest> ReadAsync(string file, CancellationToken cancellationToken)
    {
        string yaml;
        if (file != "-")
        {
            yaml = await InputFiles.ReadTextAsync(file, "--file", cancellationToken);
        }
        else if (!Console.IsInputRedirected)
        {
            throw new CliException("--file - reads the worker from standard input, but nothing is piped in: pipe a file, or give its path", ExitCodes.Usage);
        }
        else
        {
            yaml = await Console.In.ReadToEndAsync(cancellationToken);
        }
        // The server's own reader: a file means the same to `baton worker create` as to <data dir>/workers.
        var (request, problem) = WorkerFiles.Parse(yaml);
        return request ?? throw new CliException($"{(file == "-" ? "standard input" : file)}: {problem}", ExitCodes.Usage);
    }
}
