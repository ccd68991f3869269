using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run list`: the runs, newest first, as a table or as the API's JSON.</summary>
public sealed class RunListCommand : ClientCommand
{
    private readonly Option<string> _status = new("--status") { Description = "Only runs in this status (pending, running, awaiting_approval, paused, completed, failed, cancelled, expired)" };
    private readonly Option<string> _profile = new("--profile") { Description = "Only runs of this profile" };
    private readonly Option<string> _project = new("--project") { Description = "Only runs of this project" };

    // Ranges are the server's to check (it answers 400, exit code 2), so the CLI cannot drift from the API.
    private readonly Option<int?> _limit = WholeNumber("--limit", "How many runs to show (server default 50, at most 200)");
    private readonly Option<int?> _offset = WholeNumber("--offset", "Skip this many runs (for the next page)");
    private readonly Option<bool> _all = new("--all") { Description = "Every matching run, page after page (not with --limit/--offset)" };
    private readonly Option<bool> _json = new("--json") { Description = "Print the API's JSON ({runs, total, limit, offset}) instead of a table" };

    public RunListCommand()
        : base("list", "List runs, newest first.",
            "baton run list",
            "baton run list --status awaiting_approval --profile software_delivery",
            "baton run list --all --json | jq -r '.runs[].run_id'")
    {
        Options.Add(_status);
        Options.Add(_profile);
        Options.Add(_project);
        Options.Add(_limit);
        Options.Add(_offset);
        Options.Add(_all);
        Options.Add(_json);
        Validators.Add(result =>
        {
            if (result.GetValue(_all) && (result.GetValue(_limit) is not null || result.GetValue(_offset) is not null))
            {
                result.AddError("--all lists every run; leave out --limit and --offset");
            }
        });
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var (status, profile, project) = (parseResult.GetValue(_status), parseResult.GetValue(_profile), parseResult.GetValue(_project));
        RunList list;
        if (parseResult.GetValue(_all))
        {
            var runs = new List<RunSummary>();
            await foreach (var run in client.ListAllRunsAsync(status, profile, project, cancellationToken))
            {
                runs.Add(run);
            }
            list = new RunList(runs, runs.Count, runs.Count, 0);
        }
        else
        {
            list = await client.ListRunsAsync(status, profile, project, parseResult.GetValue(_limit), parseResult.GetValue(_offset), cancellationToken);
        }
        var terminal = Terminal.For(parseResult);
        if (parseResult.GetValue(_json))
        {
            RunView.WriteJson(terminal.Out, list);
            return ExitCodes.Ok;
        }
        if (list.Runs.Count == 0)
        {
            terminal.Line(list.Total == 0 ? "No runs." : $"No runs on this page ({list.Total} in all; try a smaller --offset).");
            return ExitCodes.Ok;
        }
        Table.Write(terminal,
            ["RUN ID", "PROFILE", "PROJECT", "STATUS", "PHASE", "ITER", "CREATED"],
            list.Runs.Select(r => new[]
            {
                r.RunId,
                r.Profile,
                r.ProjectName ?? "-",
                r.Status,
                r.CurrentPhase ?? "-",
                r.Iteration.ToString(CultureInfo.InvariantCulture),
                r.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
            }));
        var shownTo = list.Offset + list.Runs.Count;
        if (list.Offset > 0 || shownTo < list.Total)
        {
            terminal.Blank();
            terminal.Line(shownTo < list.Total
                ? $"Runs {list.Offset + 1}-{shownTo} of {list.Total}; next page: --offset {shownTo}"
                : $"Runs {list.Offset + 1}-{shownTo} of {list.Total}");
        }
        return ExitCodes.Ok;
    }
}
