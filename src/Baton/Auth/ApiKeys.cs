using System.Data;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Baton.Client;
using Baton.Runs;
using Baton.Storage;

namespace Baton.Auth;

public static class Roles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Approver = "approver";
    public const string Admin = "admin";

    /// <summary>Each role includes the ones before it.</summary>
    public static readonly string[] Ordered = [Viewer, Operator, Approver, Admin];

    public static int Rank(string role) => Array.IndexOf(Ordered, role);

    public static string Actor(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";

    public static bool Has(this ClaimsPrincipal user, string role) =>
        Rank(user.FindFirstValue(ClaimTypes.Role) ?? "") >= Rank(role);

    /// <summary>A claim per group of the key (a gate's `approvers` may name `group:NAME`).</summary>
    public const string GroupClaim = "baton:group";

    /// <summary>The claims that say who a key is, for the API and the dashboard alike.</summary>
    public static List<Claim> ClaimsOf(ApiKeyRow key) =>
        [new Claim(ClaimTypes.Name, key.Name), new Claim(ClaimTypes.NameIdentifier, key.Id), new Claim(ClaimTypes.Role, key.Role),
            .. key.GroupList.Select(g => new Claim(GroupClaim, g))];

    /// <summary>The key deciding a gate, as its claims say.</summary>
    public static GateDecider Decider(this ClaimsPrincipal user) => new(
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.Actor(),
        user.Actor(),
        user.FindFirstValue(ClaimTypes.Role) ?? "",
        user.FindAll(GroupClaim).Select(c => c.Value).ToList());
}

/// <summary>API keys: random tokens shown once; only their SHA-256 is stored (they are long and random, so a slow hash adds nothing).</summary>
public static partial class ApiKeys
{
    public const int MaxGroups = 20;

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial System.Text.RegularExpressions.Regex GroupName();

    public const string TokenPrefix = "bat_";

    public static string NewToken() => TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static Task<ApiKeyRow?> FindActiveAsync(IDbConnection c, string token, DateTimeOffset now) =>
        ApiKeyStore.FindActiveByHashAsync(c, null, Hash(token), now.ToMs());

    /// <summary>The key of this token, active or not (null when no key ever had it).</summary>
    public static Task<ApiKeyRow?> FindAnyAsync(IDbConnection c, string token) => ApiKeyStore.FindByHashAsync(c, null, Hash(token));

    /// <summary>
    /// Makes sure a key with this token exists with this role (the bootstrap admin and `baton up`'s local key), and
    /// returns null; or, when the token's key was revoked, changes nothing and returns that key. A revoked key never
    /// comes back: revoking a leaked bootstrap token must survive the next restart.
    /// </summary>
    /// <remarks>A changed token replaces the old one: the key it replaces is revoked, so rotating a leaked token works.</remarks>
    public static Task<ApiKeyRow?> EnsureAsync(Database db, string name, string token, string role, TimeProvider time) =>
        db.WriteAsync(async (c, tx) =>
        {
            var hash = Hash(token);
            if (await ApiKeyStore.FindRevokedByHashAsync(c, tx, hash) is { } revoked)
            {
                return revoked;
            }
            await ApiKeyStore.EnsureSystemKeyAsync(c, tx, Ids.New("key", time), name, role, hash, time.GetUtcNow().ToMs());
            return null;
        });

    /// <summary>What is wrong with a key to create, per field (none when it can be created).</summary>
    public static Dictionary<string, string[]> Validate(CreateKeyRequest? body, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Name))
        {
            errors["name"] = ["name is required: who or what will use the key"];
        }
        else if (body.Name.Length > 100)
        {
            errors["name"] = ["name is longer than 100 characters"];
        }
        if (string.IsNullOrWhiteSpace(body?.Role))
        {
            errors["role"] = [$"role is required: one of {string.Join(", ", Roles.Ordered)}"];
        }
        else if (Roles.Rank(body.Role) < 0)
        {
            errors["role"] = [$"unknown role '{body.Role}'; one of {string.Join(", ", Roles.Ordered)}"];
        }
        if (body?.ExpiresAt is { } expires && expires <= now)
        {
            errors["expires_at"] = ["expires_at must be in the future"];
        }
        if (body?.Groups is { } groups)
        {
            if (groups.Count > MaxGroups)
            {
                errors["groups"] = [$"a key belongs to at most {MaxGroups} groups"];
            }
            else if (groups.Any(g => g is null || !GroupName().IsMatch(g)))
            {
                errors["groups"] = [$"group '{groups.First(g => g is null || !GroupName().IsMatch(g))}' must be 1-64 characters of a-z, 0-9, '_' or '-'"];
            }
            else if (groups.Distinct().Count() != groups.Count)
            {
                errors["groups"] = ["a group is listed twice"];
            }
        }
        return errors;
    }

    /// <summary>Creates a key for the API and the dashboard alike: its token (shown once), or why not.</summary>
    public static async Task<KeyCreation> CreateAsync(Database db, CreateKeyRequest? body, string actor, TimeProvider time)
    {
        var now = time.GetUtcNow();
        if (Validate(body, now) is { Count: > 0 } errors)
        {
            return new KeyCreation.Invalid(errors);
        }
        var token = NewToken();
        var key = new ApiKeyRow
        {
            Id = Ids.New("key", time),
            Name = body!.Name!,
            Role = body.Role!,
            CreatedBy = actor,
            CreatedAt = now.ToMs(),
            ExpiresAt = body.ExpiresAt?.ToMs(),
            Groups = body.Groups is { Count: > 0 } groups ? System.Text.Json.JsonSerializer.Serialize(groups) : null,
        };
        var created = await db.WriteAsync(async (c, tx) =>
        {
            await ApiKeyStore.LockNameAsync(c, tx, key.Name);
            if (await ApiKeyStore.IsNameTakenAsync(c, tx, key.Name, key.CreatedAt))
            {
                return false;
            }
            await ApiKeyStore.InsertAsync(c, tx, key, Hash(token));
            return true;
        });
        return created
            ? new KeyCreation.Created(new CreatedKey(key.Id, key.Name, key.Role, token, now, body.ExpiresAt, key.GroupList))
            : new KeyCreation.NameTaken($"an active key named '{key.Name}' exists; names identify who approved what, so they are unique");
    }

    /// <summary>Revokes a key, then ends the event streams it holds open.</summary>
    public static async Task<KeyRevocation> RevokeAsync(Database db, string id, TimeProvider time, OpenStreams streams)
    {
        var outcome = await db.WriteAsync(async (c, tx) =>
        {
            var key = await ApiKeyStore.FindAsync(c, tx, id);
            if (key is null)
            {
                return KeyRevocation.NotFound;
            }
            // Guarded by the update itself: of two revokes at once, the second finds the key revoked.
            return key.RevokedAt is null && await ApiKeyStore.RevokeAsync(c, tx, id, time.GetUtcNow().ToMs())
                ? KeyRevocation.Revoked
                : KeyRevocation.AlreadyRevoked;
        });
        if (outcome == KeyRevocation.Revoked)
        {
            // After the commit, so a stream that ends cannot reopen with a key that is still active.
            streams.EndStreamsOf(id);
        }
        return outcome;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>What creating a key came to.</summary>
public abstract record KeyCreation
{
    private KeyCreation()
    {
    }

    public sealed record Created(CreatedKey Key) : KeyCreation;

    public sealed record Invalid(Dictionary<string, string[]> Errors) : KeyCreation;

    public sealed record NameTaken(string Detail) : KeyCreation;
}

public enum KeyRevocation
{
    Revoked,
    NotFound,
    AlreadyRevoked,
}
