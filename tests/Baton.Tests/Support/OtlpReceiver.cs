using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Baton.Tests.Support;

/// <summary>
/// An OTLP/HTTP collector on 127.0.0.1 (POST /v1/traces, protobuf), keeping every span it gets. The OTLP message types
/// (opentelemetry-proto) are not a package here, so the few fields read are decoded from the wire format with
/// Google.Protobuf's reader, by their numbers in trace.proto.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();

    private OtlpReceiver(WebApplication app)
    {
        _app = app;
        app.MapPost("/v1/traces", (Delegate)ReceiveTracesAsync);
        // Metrics (exported every minute and at shutdown) are accepted and not read.
        app.MapPost("/v1/metrics", () => Results.Bytes([], "application/x-protobuf"));
    }

    /// <summary>The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it.</summary>
    public string Endpoint { get; private set; } = "";

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    /// <summary>Every export request's body as it came, for a test that searches all of it (events and status too).</summary>
    public IReadOnlyList<byte[]> Bodies => [.. _bodies];

    private readonly ConcurrentQueue<byte[]> _bodies = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var receiver = new OtlpReceiver(LoopbackApp.Build());
        await receiver._app.StartAsync();
        receiver.Endpoint = LoopbackApp.AddressOf(receiver._app);
        return receiver;
    }

    private async Task<IResult> ReceiveTracesAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        _bodies.Enqueue(body.ToArray());
        // ExportTraceServiceRequest: resource_spans = 1; ResourceSpans: scope_spans = 2; ScopeSpans: spans = 2.
        foreach (var resourceSpans in Fields(body.ToArray()).Where(f => f.Number == 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans.Bytes).Where(f => f.Number == 2))
            {
                foreach (var span in Fields(scopeSpans.Bytes).Where(f => f.Number == 2))
                {
                    _spans.Enqueue(ReadSpan(span.Bytes));
                }
            }
        }
        return Results.Bytes([], "application/x-protobuf");
    }

    /// <summary>Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6, attributes = 9 (KeyValue).</summary>
    private static ReceivedSpan ReadSpan(byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var field in Fields(span))
        {
            switch (field.Number)
            {
                case 1: traceId = Convert.ToHexStringLower(field.Bytes); break;
                case 2: spanId = Convert.ToHexStringLower(field.Bytes); break;
                case 4: parent = Convert.ToHexStringLower(field.Bytes); break;
                case 5: name = System.Text.Encoding.UTF8.GetString(field.Bytes); break;
                case 6: kind = (int)field.Number64; break;
                case 9:
                    // KeyValue: key = 1, value = 2 (AnyValue: string = 1, bool = 2, int = 3, double = 4).
                    var kv = Fields(field.Bytes).ToList();
                    var key = System.Text.Encoding.UTF8.GetString(kv.Single(f => f.Number == 1).Bytes);
                    var value = kv.SingleOrDefault(f => f.Number == 2) is { Bytes: { } any } ? Fields(any).SingleOrDefault() : null;
                    attributes[key] = value?.Number switch
                    {
                        1 => System.Text.Encoding.UTF8.GetString(value.Bytes),
                        2 => value.Number64 != 0,
                        3 => (long)value.Number64,
                        4 => BitConverter.UInt64BitsToDouble(value.Number64),
                        _ => null,
                    };
                    break;
            }
        }
        return new ReceivedSpan(traceId, spanId, parent, name, kind, attributes);
    }

    private sealed record Field(int Number, byte[] Bytes, ulong Number64);

    private static IEnumerable<Field> Fields(byte[] message)
    {
        var input = new CodedInputStream(message);
        var fields = new List<Field>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            fields.Add(WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.LengthDelimited => new Field(number, input.ReadBytes().ToByteArray(), 0),
                WireFormat.WireType.Varint => new Field(number, [], input.ReadUInt64()),
                WireFormat.WireType.Fixed64 => new Field(number, [], input.ReadFixed64()),
                WireFormat.WireType.Fixed32 => new Field(number, [], input.ReadFixed32()),
                var other => throw new InvalidDataException($"wire type {other} in an OTLP message"),
            });
        }
        return fields;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A span as received: ids in hex (an empty parent for a root), its kind (2 server, 3 client) and attributes.</summary>
public sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, object?> Attributes)
{
    public string? Tag(string key) => Attributes.TryGetValue(key, out var v) ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) : null;
}
