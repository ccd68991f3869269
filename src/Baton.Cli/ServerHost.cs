using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.Cli;

/// <summary>What `baton up` and `baton serve` choose; null means "as the environment says".</summary>
public sealed record ServerSettings(string? Urls, string? DataDir, string? Role, bool LocalAdminKey, bool Terse);

/// <summary>The Baton server in this process, built exactly as src/Baton/Program.cs builds it.</summary>
public static class ServerHost
{
    public static WebApplication Build(ServerSettings settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // The server's name, not `baton`: whatever finds parts of the app by its name (Razor pages of the
            // dashboard, the OpenAPI title) must find the server's assembly, as when src/Baton runs on its own.
            ApplicationName = typeof(BatonHost).Assembly.GetName().Name,
            Args = [BatonHost.NoConfigReload],
        });

        // Added last, so an option given on the command line wins over the same BATON_* environment variable.
        var overrides = new Dictionary<string, string?>();
        if (settings.DataDir is not null)
        {
            overrides["BATON_DATA_DIR"] = settings.DataDir;
        }
        if (settings.Role is not null)
        {
            overrides["BATON_ROLE"] = settings.Role;
        }
        if (settings.LocalAdminKey)
        {
            overrides["BATON_LOCAL_ADMIN_KEY"] = "true";
        }
        builder.Configuration.AddInMemoryCollection(overrides);

        if (settings.Urls is not null)
        {
            builder.WebHost.UseUrls(settings.Urls);
        }
        else if (!HasConfiguredAddresses(builder.Configuration))
        {
            // Kestrel alone would pick localhost:5000; Baton's clients expect 7070, and only this machine by default.
            builder.WebHost.UseUrls(Connection.DefaultUrl);
        }

        if (settings.Terse)
        {
            // A person at a terminal: the start-up banner says what matters; framework chatter only when it is a problem.
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
            // The authentication base class logs every refused key at Information under our category.
            builder.Logging.AddFilter("Baton.Auth", LogLevel.Warning);
            // The banner says which sandbox is active; the log speaks up only when agents run unconfined or cannot run.
            builder.Logging.AddFilter("Baton.Agents.Sandbox", LogLevel.Warning);
            // It logs a start-up failure with its stack trace; RunAsync's caller prints the one-line reason instead.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        }

        builder.AddBaton();
        var app = builder.Build();
        app.MapBaton();
        return app;
    }

    /// <summary>
    /// Runs, then disposes, the app: until Ctrl+C or SIGTERM (the host's ConsoleLifetime drains requests and stops the engine first).
    /// <paramref name="whenStarted"/> runs once the app listens (a banner that asks the database and the sandbox);
    /// if it fails, the app stops and its exception is the answer.
    /// Throws when a background service such as the engine crashed, which stops the host, so the process does
    /// not exit 0 as if it had been stopped on purpose.
    /// </summary>
    public static async Task RunAsync(WebApplication app, Func<Task>? whenStarted = null)
    {
        // Taken before running: RunAsync disposes the app, and its services with it.
        var background = app.Services.GetServices<IHostedService>().OfType<BackgroundService>().ToList();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (app.Lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            var running = app.RunAsync();
            if (whenStarted is not null && await Task.WhenAny(started.Task, running) == started.Task)
            {
                try
                {
                    await whenStarted();
                }
                catch
                {
                    app.Lifetime.StopApplication();
                    await running;
                    throw;
                }
            }
            await running;
        }
        var crashed = background
            .Select(s => s.ExecuteTask?.Exception?.GetBaseException())
            .FirstOrDefault(e => e is not null);
        if (crashed is not null)
        {
            throw new CliException($"Baton stopped because a background service failed: {crashed.Message}");
        }
    }

    /// <summary>The address people and clients should use: a wildcard listen address is reachable as 127.0.0.1.</summary>
    public static string ClientUrl(WebApplication app)
    {
        var address = app.Urls.FirstOrDefault() ?? Connection.DefaultUrl;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
        {
            return address;
        }
        var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
        return new UriBuilder(uri) { Host = host }.Uri.AbsoluteUri.TrimEnd('/');
    }

    /// <summary>ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS or Kestrel endpoints: a deployment that chose its own addresses.</summary>
    private static bool HasConfiguredAddresses(IConfiguration config) =>
        !string.IsNullOrEmpty(config["urls"])
        || !string.IsNullOrEmpty(config["http_ports"])
        || !string.IsNullOrEmpty(config["https_ports"])
        || config.GetSection("Kestrel:Endpoints").Exists();
}
