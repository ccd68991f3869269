using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Gates;

/// <summary>A new API key of a role (and groups) for a gate test, with a client and an HttpClient that use it.</summary>
public sealed record GateKey(BatonClient Client, HttpClient Http, string Name, string Token)
{
    public static async Task<GateKey> CreateAsync(BatonFactory factory, string role, params string[] groups)
    {
        var name = $"{role}-{Guid.NewGuid():N}"[..20];
        var key = await factory.Client().CreateKeyAsync(new CreateKeyRequest(name, role, Groups: groups.Length == 0 ? null : groups));
        return new GateKey(factory.Client(key.Token), factory.Http(key.Token), name, key.Token);
    }
}
