using System.CommandLine;
using Baton.Auth;
using Baton.Client;
using Baton.Dashboard;
using Baton.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton up`: the whole server (API + engine, SQLite) for one person on this machine, with a local admin key in
/// the data dir so that `baton` commands and curl need no set-up.
/// </summary>
public sealed class UpCommand : BatonCommand
{
    private readonly Option<string> _urls = new("--urls")
    {
        Description = "Where to listen",
        HelpName = "url",
        DefaultValueFactory = _ => Connection.DefaultUrl,
    };

    private readonly Option<string> _dataDir = new("--data-dir")
    {
        Description = "Database, admin key and profiles [default: BATON_DATA_DIR, else ./.baton]",
        HelpName = "dir",
    };

    public UpCommand()
        : base("up", "Start Baton on this machine: API, engine and dashboard on SQLite, with a local admin key.",
            "baton up",
            "baton up --urls http://127.0.0.1:8080 --data-dir ~/baton")
    {
        Options.Add(_urls);
        Options.Add(_dataDir);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var settings = new ServerSettings(parseResult.GetValue(_urls), parseResult.GetValue(_dataDir), Role: "all", LocalAdminKey: true, Terse: true);
        var app = ServerHost.Build(settings);
        var output = parseResult.InvocationConfiguration.Output;
        await ServerHost.RunAsync(app, whenStarted: () => WriteBannerAsync(output, app));
        output.WriteLine("Baton stopped.");
        return ExitCodes.Ok;
    }

    /// <summary>A one-time dashboard link for the local admin key, made in this process before anyone could ask for one.</summary>
    private static async Task<SignInLink> LocalAdminSignInLinkAsync(WebApplication app, BatonOptions options, string url)
    {
        var db = app.Services.GetRequiredService<Database>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        var token = LocalAdminToken.ReadOrCreate(options.LocalAdminTokenPath);
        var key = await db.ReadAsync(c => ApiKeys.FindActiveAsync(c, token, time.GetUtcNow()))
            ?? throw new CliException($"The local admin key in {options.LocalAdminTokenPath} is not active.");
        return await SignInLinks.CreateAsync(db, key.Id, url, time);
    }

    private static async Task WriteBannerAsync(TextWriter output, WebApplication app)
    {
        var options = app.Services.GetRequiredService<BatonOptions>();
        var url = ServerHost.ClientUrl(app);
        var tokenPath = Shell.Path(options.LocalAdminTokenPath);
        var link = await LocalAdminSignInLinkAsync(app, options, url);

        output.WriteLine($"Baton is up at {url} (API + engine, SQLite in {Shell.Path(options.DataDir)})");
        output.WriteLine();
        output.WriteLine($"  Dashboard  {url}/");
        output.WriteLine($"  Sign in    {link.Url}");
        output.WriteLine($"             (one-time link, valid for an hour; `baton dashboard` prints a new one)");
        output.WriteLine($"  Admin key  {tokenPath} (readable by you only)");
        output.WriteLine($"  Log in     curl -H \"Authorization: Bearer $(cat {tokenPath})\" {url}/api/runs");
        var (sandbox, problem) = await app.Services.GetRequiredService<Agents.Sandbox>().StatusAsync();
        output.WriteLine($"  Sandbox    {sandbox}" + (sandbox switch
        {
            Agents.Sandbox.Bubblewrap => " (agents and checks see only their workspace)",
            Agents.Sandbox.Off => " (BATON_SANDBOX=off: agents and checks run unconfined)",
            _ => $": {problem}",
        }));
        output.WriteLine();

        // The CLI finds this server by itself only where its defaults (URL, BATON_DATA_DIR or ./.baton) point here.
        var exports = new List<string>();
        if (url != Connection.DefaultUrl)
        {
            exports.Add($"BATON_URL={url}");
        }
        if (Connection.LocalTokenPath(Environment.GetEnvironmentVariable) != options.LocalAdminTokenPath)
        {
            exports.Add($"BATON_DATA_DIR={Shell.Quote(options.DataDir)}");
        }
        output.WriteLine(exports.Count == 0
            ? "`baton` commands run in this folder use the admin key automatically: try `baton run list`."
            : $"`baton` commands use the admin key automatically after: export {string.Join(' ', exports)}");
        output.WriteLine("Press Ctrl+C to stop.");
    }
}
