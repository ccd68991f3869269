using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton audit`: the audit log (admin), newest first: every write request, who made it and what it got.</summary>
public sealed class AuditCommand : ClientCommand
{
    private readonly Option<string?> _key = new("--key") { Description = "Only this key's requests (its key id)." };
    private readonly Option<string?> _action = new("--action") { Description = "Only this action, as entries show it: 'POST /api/runs/{id}/approve'." };
    private readonly Option<string?> _run = new("--run") { Description = "Only requests about this run." };
    private readonly Option<long?> _before = new("--before") { Description = "Entries older than this entry id (the next page)." };
    private readonly Option<int> _limit = new("--limit") { Description = "How many entries, 1 to 500.", DefaultValueFactory = _ => 50 };
    private readonly Option<bool> _json = JsonOption("{entries[], next_before}");

    public AuditCommand()
        : base("audit", "Show the audit log (admin): every write request, refused or not, with its key, address and status.",
            "baton audit --run run_01jd…",
            "baton audit --action 'POST /api/runs/{id}/approve' --limit 20")
    {
        Options.Add(_key);
        Options.Add(_action);
        Options.Add(_run);
        Options.Add(_before);
        Options.Add(_limit);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var page = await client.ListAuditAsync(parseResult.GetValue(_key), parseResult.GetValue(_action), parseResult.GetValue(_run),
            parseResult.GetValue(_before), parseResult.GetValue(_limit), cancellationToken);
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, page);
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["ID", "AT", "WHO", "KEY ID", "ACTION", "RUN", "STATUS", "FROM"],
            page.Entries.Select(e => new[]
            {
                e.Id.ToString(CultureInfo.InvariantCulture),
                RunView.Time(e.At),
                e.Actor,
                e.KeyId ?? "-",
                $"{e.Method} {e.Route}",
                e.RunId ?? "-",
                e.Status.ToString(CultureInfo.InvariantCulture),
                e.Address ?? "-",
            }));
        if (page.NextBefore is { } next)
        {
            terminal.Error.WriteLine($"more: baton audit --before {next}");
        }
        return ExitCodes.Ok;
    }
}
