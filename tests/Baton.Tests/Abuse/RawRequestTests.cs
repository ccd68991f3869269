using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Storage;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Baton.Tests.Abuse;

/// <summary>
/// Requests no HTTP client library would send, written byte by byte to the real server (Kestrel on 127.0.0.1): bad
/// and duplicate Content-Length, huge headers, NUL and bad UTF-8 in the path, control characters in headers. Each is
/// refused with the 4xx it calls for (one 505, Kestrel's answer to an unknown HTTP version), nothing is stored, and the
/// server still answers.
/// </summary>
public sealed class RawRequestTests : IDisposable
{
    private readonly BatonFactory _factory = new();

    /// <summary>Each request, and the status it gets (null: no answer; the connection is closed or left waiting).</summary>
    private static readonly Dictionary<string, (byte[] Bytes, int? Status)> Requests = new(StringComparer.Ordinal)
    {
        ["NUL in the path"] = (Ascii("GET /api/runs/%00 HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), 400),
        ["NUL in the path of a write"] = (Ascii("POST /api/runs/a%00b/cancel HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"), 400),
        ["NUL in an artifact name"] = (Ascii("GET /api/runs/run_x/artifacts/a%00.md HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), 400),
        ["raw bad UTF-8 in the path"] = ([.. Encoding.ASCII.GetBytes("GET /api/runs/"), 0xED, 0xA0, 0x80, 0xFF, .. Encoding.ASCII.GetBytes(" HTTP/1.1\r\nHost: x\r\n{auth}\r\n".Replace("{auth}", Auth, StringComparison.Ordinal))], 400),
        ["raw traversal in the path"] = (Ascii("GET /api/runs/run_x/artifacts/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), 404),  // Kestrel resolves the dot segments: /etc/passwd, which is no route.
        ["an absolute URL to another host"] = (Ascii("GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), 400),
        ["a 100 KB header"] = (Ascii($"GET /api/runs HTTP/1.1\r\nHost: x\r\n{{auth}}X-Junk: {new string('h', 100_000)}\r\n\r\n"), 431),
        ["a thousand headers"] = (Ascii("GET /api/runs HTTP/1.1\r\nHost: x\r\n{auth}" + string.Concat(Enumerable.Range(0, 1000).Select(i => $"X-H{i}: v\r\n")) + "\r\n"), 431),
        ["a 20 KB URL"] = (Ascii($"GET /api/runs?status={new string('s', 20_000)} HTTP/1.1\r\nHost: x\r\n{{auth}}\r\n"), 414),
        ["Content-Length not a number"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"), 400),
        ["Content-Length negative"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: -2\r\n\r\n{}"), 400),
        ["Content-Length beyond 64 bits"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{}"), 400),
        ["Content-Length over the body limit"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n{}"), 413),
        ["two different Content-Lengths"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"), 400),
        ["Content-Length and chunked"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), 400),
        ["a body shorter than its Content-Length"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"profile\":\"x\""), null),  // The server waits for the rest of the body.
        ["bad chunk sizes"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"), 400),
        ["an unknown Transfer-Encoding"] = (Ascii("POST /api/runs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: gzip, rot13\r\n\r\n{}"), 400),
        ["no Host"] = (Ascii("GET /api/runs HTTP/1.1\r\n{auth}\r\n"), 400),
        ["two Hosts"] = (Ascii("GET /api/runs HTTP/1.1\r\nHost: x\r\nHost: y\r\n{auth}\r\n"), 400),
        ["a NUL in a header"] = (Ascii("GET /api/runs HTTP/1.1\r\nHost: x\r\n{auth}X-A: a\0b\r\n\r\n"), 400),
        ["a bare LF in a header"] = (Ascii("GET /api/runs HTTP/1.1\r\nHost: x\r\n{auth}X-A: a\nb\r\n\r\n"), 400),
        ["two Authorization headers"] = (Ascii("POST /api/keys HTTP/1.1\r\nHost: x\r\n{auth}{auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), 401),  // The two values are one unknown key.
        ["an unknown method"] = (Ascii("BREW /api/runs HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), 405),
        ["HTTP/9.9"] = (Ascii("GET /api/runs HTTP/9.9\r\nHost: x\r\n{auth}\r\n"), 505),  // Kestrel's answer to a version it does not speak (HTTP Version Not Supported), before the app.
        ["garbage"] = ([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, .. new byte[200]], 400),
    };

    private const string Auth = "Authorization: Bearer " + BatonFactory.AdminToken + "\r\n";

    private static byte[] Ascii(string request) => Encoding.Latin1.GetBytes(request.Replace("{auth}", Auth, StringComparison.Ordinal));

    [Fact]
    public async Task Malformed_requests_on_the_wire_are_refused_without_a_5xx_or_a_change_and_the_server_keeps_answering()
    {
        _factory.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        var address = new Uri(_factory.Service<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        var db = _factory.Service<Database>();
        var before = await DatabaseSnapshot.TakeAsync(db);
        var failures = new List<string>();
        foreach (var (what, (bytes, expected)) in Requests)
        {
            var answer = await SendAsync(address, bytes);
            if (answer != expected)
            {
                failures.Add($"{what}: {answer?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no answer"}, expected {expected?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no answer"}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(before, await DatabaseSnapshot.TakeAsync(db));
        Assert.Equal(200, await SendAsync(address, Ascii("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
    }

    /// <summary>The status of the answer, or null when the server closed the connection without one.</summary>
    private static async Task<int?> SendAsync(Uri address, byte[] request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        stream.ReadTimeout = 10_000;
        try
        {
            await stream.WriteAsync(request);
        }
        catch (IOException)
        {
            // The server answered and closed before reading it all (a huge header): its answer may still be readable.
        }
        var buffer = new byte[4096];
        // A body shorter than its Content-Length leaves the server waiting for the rest: no answer, and no harm.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        int read;
        try
        {
            read = await stream.ReadAsync(buffer, timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            return null;
        }
        var head = Encoding.Latin1.GetString(buffer, 0, read);
        return head.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && int.TryParse(head.AsSpan(9, 3), out var status) ? status : null;
    }

    public void Dispose() => _factory.Dispose();
}
