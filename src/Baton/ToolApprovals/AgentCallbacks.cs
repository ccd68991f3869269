using Baton.Agents;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Baton.ToolApprovals;

/// <summary>
/// How an agent reaches this server to ask for a tool approval: `baton mcp --execution ID` (BATON_AGENT_CLI, else the
/// `baton` installed beside the server, else on PATH), talking to BATON_AGENT_URL (else the server's own first
/// address) with the execution's own key (<see cref="AgentKeys"/>).
/// </summary>
public sealed class AgentCallbacks(IConfiguration config, IServer server, AgentKeys keys)
{
    public ApprovalChannel? For(string executionId, IReadOnlyList<string> tools)
    {
        if (tools.Count == 0)
        {
            return null;
        }
        var url = config["BATON_AGENT_URL"] is { Length: > 0 } configured ? configured : OwnAddress()
            ?? throw new AgentFailedException("tool_approvals: the agent cannot reach this server; set BATON_AGENT_URL to the URL agents call it at");
        var (command, args, dotnetRoot) = Cli();
        return new ApprovalChannel(url, keys.For(executionId), executionId, command, [.. args, "mcp", "--execution", executionId], tools, dotnetRoot);
    }

    private (string Command, string[] Args, string? DotnetRoot) Cli()
    {
        var cli = config["BATON_AGENT_CLI"] is { Length: > 0 } path ? path
            : new[] { "baton.dll", "baton" }.Select(n => Path.Combine(AppContext.BaseDirectory, n)).FirstOrDefault(File.Exists) ?? "baton";
        if (!cli.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return (cli, [], null);
        }
        // A framework-dependent build runs on the dotnet host this server runs on.
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        return (host, [cli], Path.IsPathRooted(host) ? Path.GetDirectoryName(host) : null);
    }

    private string? OwnAddress()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null || !Uri.TryCreate(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return null;
        }
        // An agent on this machine reaches a wildcard binding on loopback.
        var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
        return new UriBuilder(uri) { Host = host }.Uri.ToString().TrimEnd('/');
    }
}
