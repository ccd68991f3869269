using System.Security.Cryptography;

namespace Baton.Storage;

/// <summary>Prefixed, time-ordered ids (`run_01jd…`): readable in logs and sortable like the rows they name.</summary>
public static class Ids
{
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New(string prefix, TimeProvider time) => New(prefix, time.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>An id whose time part is <paramref name="ms"/> (Unix ms), for a row made at a time already taken.</summary>
    public static string New(string prefix, long ms)
    {
        Span<char> chars = stackalloc char[26];
        for (var i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(ms & 31)];
            ms >>= 5;
        }
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        for (var i = 10; i < 26; i++)
        {
            chars[i] = Alphabet[random[i - 10] & 31];
        }
        return $"{prefix}_{chars}";
    }
}
