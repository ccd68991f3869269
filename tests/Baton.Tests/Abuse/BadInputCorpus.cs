using System.Text;
using System.Text.Json.Nodes;
using Baton.Client;

namespace Baton.Tests.Abuse;

/// <summary>One generated request: what it is (for a failure message), where it goes, what it carries.</summary>
public sealed record BadRequest(string What, string Method, string PathAndQuery, Func<HttpContent?> Body, IReadOnlyList<(string Name, string Value)> Headers, string? Token);

/// <summary>Ids that exist, so that a mutated field, not an unknown id, is what a request gets refused for.</summary>
public sealed record KnownIds(string RunId, string Artifact, string Profile, string AdminToken, string ViewerToken, string OperatorToken, string Csrf);

/// <summary>
/// Bad input for every endpoint, generated from its route, query parameters and JSON body type (read from the app's
/// route table): traversal and hostile ids in the path, out-of-range and wrong-typed query values, malformed JSON,
/// wrong types, huge and hostile strings, out-of-range numbers, unknown enum values and fields, abused headers and
/// dashboard forms. The same seed gives the same requests.
/// </summary>
public static class BadInputCorpus
{
    public const int Seed = 14;

    /// <summary>
    /// Path segments, already escaped as they go on the wire: traversal (encoded, double-encoded, absolute), bad UTF-8
    /// and the like. A NUL in the path cannot go through the in-memory test server; <see cref="RawRequestTests"/> sends it to Kestrel.
    /// </summary>
    private static readonly string[] HostileSegments =
    [
        "..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%252F..%252Fetc%252Fpasswd", "..%5C..%5Cwindows%5Cwin.ini",
        "%2Fetc%2Fpasswd", "C:%5Cboot.ini", "..", "%2E%2E", "%ED%A0%80", "%FF%FE", "%E2%80%AEcod.exe",
        "%F0%9F%98%80", "-1", "99999999999999999999999", new string('a', 10_000), "x'%20OR%20'1'%3D'1", "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ];

    /// <summary>Query values, escaped: out of range, wrong type, unknown enum, hostile text, one megabyte.</summary>
    private static readonly string[] HostileQueryValues =
    [
        "-1", "0", "-9223372036854775809", "9223372036854775808", "99999999999999999999999999", "1e308", "NaN", "-Infinity", "1.5", "abc", "",
        "not_a_known_value", "%00", "a%00b", "%ED%A0%80", "%E2%80%AE", "%F0%9F%98%80", "..%2F..%2Fetc%2Fpasswd", "true", "[1]",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E", new string('q', 1024 * 1024),
    ];

    /// <summary>Bodies that are not the JSON object an endpoint reads, whatever its type.</summary>
    private static readonly (string What, Func<HttpContent> Body)[] MalformedBodies =
    [
        ("empty body", () => Json("")),
        ("truncated JSON", () => Json("{\"a\":")),
        ("a bare string", () => Json("\"x\"")),
        ("a number", () => Json("42")),
        ("null", () => Json("null")),
        ("an array", () => Json("[{}]")),
        ("trailing garbage", () => Json("{} {}")),
        ("comments", () => Json("{/* c */}")),
        ("single quotes", () => Json("{'a':1}")),
        ("duplicate property", () => Json("{\"x\":1,\"x\":2}")),
        ("nested 100,000 deep", () => Json(new string('[', 100_000) + new string(']', 100_000))),
        ("invalid UTF-8", () => Bytes([(byte)'{', (byte)'"', 0xFF, 0xFE, 0xC0, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "application/json")),
        ("a UTF-16 body", () => Bytes(Encoding.Unicode.GetBytes("{}"), "application/json")),
        ("5 MB of JSON", () => Json("{\"x\":\"" + new string('z', 5 * 1024 * 1024) + "\"}")),
        ("unknown field", () => Json("{\"zz_unknown_field\":1}")),
    ];

    /// <summary>What a field is replaced with: wrong types, hostile and huge strings, numbers out of range, an unknown enum value.</summary>
    private static readonly (string What, JsonNode? Value)[] FieldValues =
    [
        ("a number", 123), ("true", true), ("an object", new JsonObject()), ("an array", new JsonArray("a")), ("a string", "x"), ("null", null),
        ("an empty string", ""), ("blanks", "   "), ("2 MB string", new string('s', 2 * 1024 * 1024)), ("100,000 characters", new string('c', 100_000)),
        ("RTL override", "\u202Egnp.exe"), ("NUL", "a\u0000b"), ("lone surrogate", "\uD800x"), ("emoji", string.Concat(Enumerable.Repeat("\U0001F600", 500))),
        ("script tag", "<script>alert(1)</script>"), ("traversal", "../../../etc/passwd"), ("absolute path", "/etc/passwd"), ("unknown enum value", "definitely_not_a_value"),
        ("-1", -1), ("0", 0), ("-1e308", -1e308), ("1e308", 1e308), ("2^63", JsonNode.Parse("9223372036854775808")), ("-2^63-1", JsonNode.Parse("-9223372036854775809")),
        ("1.5", 1.5), ("a digit string", "12"), ("a date far away", "9999-12-31T23:59:59Z"), ("a date before 1970", "0001-01-01T00:00:00Z"),
        ("a list of 10,000", new JsonArray(Enumerable.Range(0, 10_000).Select(i => (JsonNode?)JsonValue.Create("v" + i)).ToArray())),
        ("a map of 10,000", new JsonObject(Enumerable.Range(0, 10_000).Select(i => KeyValuePair.Create("k" + i, (JsonNode?)JsonValue.Create(i))))),
    ];

    /// <summary>The fields of the dashboard's forms (their names are shared: one list covers every form).</summary>
    private static readonly string[] FormFields =
    [
        "action", "api_key", "code", "comment", "decision", "digest", "feedback", "message", "reason", "reject_to", "return", "run", "skip_validation",
        "theme", "version", "profile", "project_name", "mode", "budget_usd", "intake", "name", "role", "expires_on", "ids",
    ];

    private static readonly string[] FormValues =
    [
        "", "-1", "1e308", "99999999999999999999", "not_a_known_value", "a\u0000b", "\u202Eevil", "\U0001F600", "<script>alert(1)</script>",
        "../../etc/passwd", "/etc/passwd", "//evil.example", "/\t/evil.example", "javascript:alert(1)", new string('f', 100_000),
    ];

    public static IEnumerable<BadRequest> For(MappedEndpoint endpoint, KnownIds ids, Random random)
    {
        string Valid(string name) => name switch
        {
            "id" when endpoint.Route.StartsWith("/api/runs/", StringComparison.Ordinal) || endpoint.Route.StartsWith("/runs/", StringComparison.Ordinal) => ids.RunId,
            "name" when endpoint.Route.Contains("/artifacts/", StringComparison.Ordinal) => ids.Artifact,
            "name" => ids.Profile,
            "file" => "site.css",
            "documentName" => "v1",
            _ => "nothing_here",
        };
        var path = endpoint.PathWith(Valid);
        HttpContent? Plain() => RoleMatrixTests.BodyOf(endpoint);

        // Hostile ids in every route parameter, one at a time.
        foreach (var parameter in endpoint.RouteParameters)
        {
            foreach (var segment in HostileSegments)
            {
                var hostile = endpoint.PathWith(n => n == parameter ? segment : Valid(n));
                yield return new($"{{{parameter}}} = {Short(segment)}", endpoint.Method, hostile, Plain, [], ids.AdminToken);
            }
        }

        // Every query parameter, each bad value, then each one given twice.
        foreach (var query in endpoint.Query)
        {
            foreach (var value in HostileQueryValues)
            {
                yield return new($"?{query.Name}={Short(value)}", endpoint.Method, $"{path}?{query.Name}={value}", Plain, [], ids.AdminToken);
            }
            yield return new($"?{query.Name} twice", endpoint.Method, $"{path}?{query.Name}=1&{query.Name}=2", Plain, [], ids.AdminToken);
        }
        if (endpoint.Query.Count == 0)
        {
            yield return new("an unknown query parameter", endpoint.Method, $"{path}?zz_unknown=%00", Plain, [], ids.AdminToken);
        }

        // Header abuse, on every endpoint, with the keys of several roles.
        foreach (var token in new[] { ids.AdminToken, ids.ViewerToken, ids.OperatorToken })
        {
            yield return new("a 64 KB header", endpoint.Method, path, Plain, [("X-Junk", new string('h', 64 * 1024))], token);
        }
        yield return new("two Authorization headers", endpoint.Method, path, Plain, [("Authorization", "Bearer " + ids.ViewerToken)], ids.AdminToken);
        yield return new("Authorization: Basic", endpoint.Method, path, Plain, [("Authorization", "Basic YWRtaW46YWRtaW4=")], null);
        yield return new("a 4 KB bearer token", endpoint.Method, path, Plain, [("Authorization", "Bearer " + new string('t', 4096))], null);
        yield return new("an empty bearer token", endpoint.Method, path, Plain, [("Authorization", "Bearer ")], null);
        yield return new("a bearer token with NUL", endpoint.Method, path, Plain, [("Authorization", "Bearer bat_\u0000x")], null);
        yield return new("forwarded headers from an untrusted address", endpoint.Method, path, Plain, [("X-Forwarded-For", "1.2.3.4, <script>"), ("X-Forwarded-Proto", "javascript")], ids.AdminToken);
        if (endpoint.IsWrite && endpoint.Method != "DELETE")
        {
            yield return new("Content-Type text/plain", endpoint.Method, path, () => Bytes("{}"u8.ToArray(), "text/plain"), [], ids.AdminToken);
            yield return new("Content-Type with charset utf-7", endpoint.Method, path, () => Bytes("{}"u8.ToArray(), "application/json; charset=utf-7"), [], ids.AdminToken);
            yield return new("multipart without a boundary", endpoint.Method, path, () => Bytes("--x\r\n\r\n"u8.ToArray(), "multipart/form-data"), [], ids.AdminToken);
            yield return new("a form with a bad encoding", endpoint.Method, path, () => Bytes("a=%ZZ&&=&b=%E2%80"u8.ToArray(), "application/x-www-form-urlencoded"), [], ids.AdminToken);
            yield return new("a Content-Length over the limit", endpoint.Method, path, () => Oversized(), [], ids.AdminToken);
        }

        if (endpoint.JsonBody is { } type)
        {
            foreach (var (what, body) in MalformedBodies)
            {
                yield return new("body: " + what, endpoint.Method, path, body, [], ids.AdminToken);
            }
            var fields = BatonJson.Options.GetTypeInfo(type).Properties.Select(p => p.Name).ToList();
            foreach (var field in fields)
            {
                foreach (var (what, value) in FieldValues)
                {
                    yield return new($"body.{field} = {what}", endpoint.Method, path, () => Json(new JsonObject { [field] = value?.DeepClone() }.ToJsonString()), [], ids.AdminToken);
                }
            }
            // A few of the same with the keys of lesser roles: refused (or validated) the same way.
            for (var i = 0; i < 4; i++)
            {
                var field = fields.Count == 0 ? "zz_unknown_field" : fields[random.Next(fields.Count)];
                var (what, value) = FieldValues[random.Next(FieldValues.Length)];
                var token = i % 2 == 0 ? ids.ViewerToken : ids.OperatorToken;
                yield return new($"body.{field} = {what} (lesser key)", endpoint.Method, path, () => Json(new JsonObject { [field] = value?.DeepClone() }.ToJsonString()), [], token);
            }
        }
        else if (endpoint.IsDashboard && endpoint.IsWrite)
        {
            // The dashboard's forms, with a valid antiforgery token (its cookie is in the client), so the fields themselves are what is read.
            for (var i = 0; i < 40; i++)
            {
                var fields = Enumerable.Range(0, random.Next(1, 4)).Select(_ => (FormFields[random.Next(FormFields.Length)], FormValues[random.Next(FormValues.Length)])).ToList();
                yield return new("form " + string.Join("&", fields.Select(f => $"{f.Item1}={Short(f.Item2)}")), endpoint.Method, path,
                    () => new FormUrlEncodedContent([new("__csrf", ids.Csrf), .. fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))]), [], ids.AdminToken);
            }
            yield return new("form with 5,000 fields", endpoint.Method, path,
                () => new FormUrlEncodedContent([new("__csrf", ids.Csrf), .. Enumerable.Range(0, 5000).Select(i => new KeyValuePair<string, string>("f" + i, "v"))]), [], ids.AdminToken);
            yield return new("form without its antiforgery token", endpoint.Method, path, () => new FormUrlEncodedContent([new("intake", "x")]), [], ids.AdminToken);
        }
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static ByteArrayContent Bytes(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    /// <summary>A body that says it is larger than the server's limit (4 MiB) and is.</summary>
    private static ByteArrayContent Oversized() => Bytes(new byte[5 * 1024 * 1024], "application/json");

    private static string Short(string s) => s.Length > 40 ? $"{s[..20]}…({s.Length} chars)" : s;
}
