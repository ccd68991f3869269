using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Baton.Cli.Mcp;
using Baton.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace Baton.Cli.Commands;

/// <summary>
/// `baton mcp`: an MCP server on stdin/stdout for AI assistants (Claude Code, Codex, ...), with tools over the
/// Baton API. It connects like every client command, so the assistant has exactly the key's role. Standard output
/// carries nothing but protocol messages; logs go to standard error.
/// </summary>
public sealed class McpCommand : ClientCommand
{
    private readonly Option<bool> _verbose = new("--verbose") { Description = "Log what the MCP server does to standard error (it logs only warnings otherwise)" };

    private readonly Option<string> _execution = new("--execution")
    {
        Description = "Serve only approve_tool, for the agent of this execution (Baton starts it so for a phase's tool_approvals, with the execution's key)",
        HelpName = "execution-id",
    };

    public McpCommand()
        : base("mcp", "Serve Baton's tools to AI assistants over MCP (stdio): list, show, create, approve, reject, cancel, retry, fork runs, read artifacts and logs.",
            "claude mcp add baton -- baton mcp",
            "claude mcp add baton-prod -- baton mcp --context prod",
            "BATON_URL=https://baton.example.com BATON_TOKEN=... baton mcp")
    {
        Options.Add(_verbose);
        Options.Add(_execution);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, BatonClient client, CancellationToken cancellationToken)
    {
        var builder = Host.CreateEmptyApplicationBuilder(settings: null);
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(parseResult.GetValue(_verbose) ? LogLevel.Information : LogLevel.Warning);
        builder.Services.AddSingleton(client);
        builder.Services.AddSingleton(ResolveConnection(parseResult));
        if (parseResult.GetValue(_execution) is { Length: > 0 } execution)
        {
            builder.Services.AddSingleton(new AgentExecution(execution));
            builder.Services
                .AddMcpServer(options => options.ServerInfo = new Implementation { Name = "baton", Title = "Baton tool approvals", Version = Version })
                .WithStdioServerTransport()
                .WithTools<AgentTools>(ToolJson);
        }
        else
        {
            AddTools(builder.Services);
        }
        using var host = builder.Build();
        await host.RunAsync(cancellationToken);
        return ExitCodes.Ok;
    }

    private static void AddTools(IServiceCollection services) =>
        services
            .AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "baton", Title = "Baton", Version = Version };
                options.ServerInstructions =
                    "Baton orchestrates multi-phase AI-agent runs (profiles of phases with approval gates). Use list_runs and show_run to see " +
                    "runs; a run with status awaiting_approval waits for approve_run or reject_run (with feedback); a failed or cancelled run " +
                    "can be retried (retry_run), and any run forked at a phase (fork_run); read_artifact and tail_logs show what its phases produced.";
            })
            .WithStdioServerTransport()
            .WithTools<BatonTools>(ToolJson);

    /// <summary>For the tools' input schemas: snake_case like the API (the SDK needs an explicit type resolver).</summary>
    private static readonly JsonSerializerOptions ToolJson = new(BatonJson.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    private static string Version =>
        typeof(McpCommand).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
