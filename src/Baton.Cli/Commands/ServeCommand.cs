using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton serve`: one node of a team deployment. Unlike `baton up` it keeps no key on disk: admin access comes
/// from BATON_ADMIN_TOKEN and the keys made with it.
/// </summary>
public sealed class ServeCommand : BatonCommand
{
    private readonly Option<string> _role = new("--role")
    {
        Description = "api: API and dashboard, no engine; worker: the engine (and /healthz, /readyz, /metrics); all: both. api and worker need PostgreSQL (BATON_DATABASE) [default: BATON_ROLE, else all]",
        HelpName = "role",
    };

    private readonly Option<string> _urls = new("--urls")
    {
        Description = $"Where to listen [default: ASPNETCORE_URLS, else {Connection.DefaultUrl}]",
        HelpName = "url",
    };

    private readonly Option<string> _dataDir = new("--data-dir")
    {
        Description = "Database and profiles [default: BATON_DATA_DIR, else ./.baton]",
        HelpName = "dir",
    };

    public ServeCommand()
        : base("serve", "Run a Baton server node for a team (keys from BATON_ADMIN_TOKEN, no local admin key).",
            "BATON_ADMIN_TOKEN=$(openssl rand -hex 24) baton serve --urls http://0.0.0.0:7070",
            "baton serve --role worker --data-dir /var/lib/baton")
    {
        _role.AcceptOnlyFromAmong("api", "worker", "all");
        Options.Add(_role);
        Options.Add(_urls);
        Options.Add(_dataDir);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var settings = new ServerSettings(parseResult.GetValue(_urls), parseResult.GetValue(_dataDir), parseResult.GetValue(_role), LocalAdminKey: false, Terse: false);
        var app = ServerHost.Build(settings);
        var output = parseResult.InvocationConfiguration.Output;
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var options = app.Services.GetRequiredService<BatonOptions>();
            output.WriteLine($"Baton serving at {ServerHost.ClientUrl(app)} (role {options.Role}, data in {options.DataDir})");
            if (options.AdminToken is null && options.Role != "worker")
            {
                output.WriteLine("No BATON_ADMIN_TOKEN is set: only API keys already in the database can sign in.");
            }
        });
        await ServerHost.RunAsync(app);
        return ExitCodes.Ok;
    }
}
