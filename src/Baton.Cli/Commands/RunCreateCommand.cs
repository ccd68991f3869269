using System.CommandLine;
using System.Globalization;
using Baton.Client;

namespace Baton.Cli.Commands;

/// <summary>`baton run create`: starts a run of a profile on an intake, and optionally follows it.</summary>
public sealed class RunCreateCommand : ClientCommand
{
    private readonly Option<string> _profile = new("--profile", "-p") { Description = "The profile to run (see `baton profile list`)", Required = true, HelpName = "name" };
    private readonly IntakeOptions _intake = new("The intake as text: the PRD, mission or ticket the run works from");
    private readonly Option<string> _projectName = new("--project-name") { Description = "The project the run belongs to", HelpName = "name" };
    private readonly Option<string> _mode = new("--mode") { Description = "auto runs phase after phase; manual pauses after each [default: the profile's]", HelpName = "mode" };

    private readonly Option<decimal?> _budget = new("--budget")
    {
        Description = "Budget in US dollars; the run stops for approval before exceeding it [default: the profile's]",
        HelpName = "usd",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (decimal.TryParse(text.TrimStart('$'), NumberStyles.Number, CultureInfo.InvariantCulture, out var usd))
            {
                return usd;
            }
            result.AddError($"--budget must be an amount of US dollars such as 5 or 2.50, not '{text}'");
            return null;
        },
    };

    private readonly Option<string> _idempotencyKey = new("--idempotency-key")
    {
        Description = "Makes the request safe to repeat: the server creates at most one run per key [default: a new key per invocation]",
        HelpName = "key",
    };

    private readonly Option<bool> _watch = new("--watch", "-w") { Description = "Follow the run until it completes or needs a human (exit codes as `baton run watch`)" };
    private readonly Option<bool> _json = JsonOption("the created run; with --watch, then one event per line");

    public RunCreateCommand()
        : base("create", "Start a run of a profile on an intake.",
            "baton run create --profile software_delivery --intake \"Add a dark mode that follows the OS\"",
            "baton run create -p software_delivery --intake-file prd.md --project-name web --watch",
            "gh issue view 42 --json body -q .body | baton run create -p pm_architect_engineer_qa - --mode manual",
            "baton run create -p planning_rail --intake-file mission.md --json | jq -r .run_id")
    {
        _mode.AcceptOnlyFromAmong("auto", "manual");
        Options.Add(_profile);
        _intake.AddTo(this, required: true);
        Options.Add(_projectName);
        Options.Add(_mode);
        Options.Add(_budget);
        Options.Add(_idempotencyKey);
        Options.Add(_watch);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var intake = await _intake.ReadAsync(parseResult, cancellationToken);
        var request = new CreateRunRequest(
            parseResult.GetValue(_profile),
            intake,
            parseResult.GetValue(_projectName),
            parseResult.GetValue(_mode),
            parseResult.GetValue(_budget));
        // A fresh key per invocation: if the answer is lost and the client retries, the server hands back the
        // same run instead of starting a second one.
        var key = parseResult.GetValue(_idempotencyKey) ?? "cli-" + Guid.NewGuid().ToString("N");
        var run = await client.CreateRunAsync(request, key, cancellationToken);

        return await StartedRun.ReportAsync(Terminal.For(parseResult), client, run, parseResult.GetValue(_json), parseResult.GetValue(_watch),
            ["Created ", new Piece(run.RunId, Tone.Bold), $" ({run.Profile}, {run.Mode} mode): "], cancellationToken);
    }
}
