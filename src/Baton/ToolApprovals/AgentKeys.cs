using Microsoft.AspNetCore.DataProtection;

namespace Baton.ToolApprovals;

/// <summary>
/// An execution's own key, given to its agent (for `baton mcp`'s approve_tool) instead of any API key: it names that
/// one execution and can only ask for, and wait on, that execution's tool approvals. It is the execution id protected
/// with the server's data-protection keys (shared by every node through the database), so nothing is stored, and it is
/// worth nothing once the execution has ended.
/// </summary>
public sealed class AgentKeys(IDataProtectionProvider provider)
{
    public const string Prefix = "bex_";

    private readonly IDataProtector _protector = provider.CreateProtector("Baton.AgentKeys.v1");

    public string For(string executionId) => Prefix + _protector.Protect(executionId);

    /// <summary>Whether <paramref name="authorization"/> (the request's header) holds the key of <paramref name="executionId"/>.</summary>
    public bool Authorizes(string? authorization, string executionId)
    {
        const string bearer = "Bearer ";
        if (authorization is not { Length: < 2048 } header || !header.StartsWith(bearer + Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        try
        {
            return _protector.Unprotect(header[(bearer.Length + Prefix.Length)..].Trim()) == executionId;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}
