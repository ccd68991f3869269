using Baton.Client;
using Baton.Tests.Support;

namespace Baton.Tests.Ops;

/// <summary>Spans exported by OTLP/HTTP to a collector the test runs, for a run that waits at a gate across a restart.</summary>
public sealed class TracingTests : IAsyncLifetime
{
    private const string Traced = """
        name: traced
        phases:
          - name: draft
            worker: model
            produces: [draft.md]
            gate:
              timeout: 1h
              on_timeout: expire
          - name: publish
            worker: model
            produces: [published.md]
        """;

    private OtlpReceiver _collector = null!;
    private OpenAiStub _model = null!;

    public async Task InitializeAsync()
    {
        _collector = await OtlpReceiver.StartAsync();
        _model = await OpenAiStub.StartAsync();
        _model.Default = StubReply.Stream("written") with { Usage = (120, 30) };
    }

    public async Task DisposeAsync()
    {
        await _model.DisposeAsync();
        await _collector.DisposeAsync();
    }

    private BatonFactory Server(string? dataDir = null)
    {
        var factory = new BatonFactory(dataDir: dataDir, profiles: dataDir is null ? new Dictionary<string, string> { ["traced"] = Traced } : null) { KeepDataDir = true };
        factory.Settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = _collector.Endpoint;
        return factory;
    }

    [Fact]
    public async Task A_run_is_one_trace_across_its_gate_and_a_restart_with_phase_execution_and_model_spans()
    {
        string runId, dataDir;
        // Disposing a server shuts its tracer provider down, which exports what it has: no waiting for a batch.
        using (var first = Server())
        {
            dataDir = first.DataDir;
            var client = first.Client();
            await client.CreateWorkerAsync(new CreateWorkerRequest("model", "openai", BaseUrl: _model.BaseUrl, Model: "test-model"));
            runId = (await client.CreateRunAsync(new CreateRunRequest("traced", "trace me"))).RunId;
            await client.WaitForGateAsync(runId, "draft", 1);
        }
        using (var second = Server(dataDir))
        {
            second.KeepDataDir = false;
            var client = second.Client();
            await client.ApproveAsync(runId);
            await client.WaitForStatusAsync(runId, "completed");
        }

        var spans = _collector.Spans;
        var ofRun = spans.Where(s => s.Tag("baton.run_id") == runId).ToList();
        var phases = ofRun.Where(s => s.Name.StartsWith("phase ", StringComparison.Ordinal)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(["phase draft", "phase publish"], phases.Select(p => p.Name));
        // The collector also gets the spans of tests running beside this one: the run's root is found by its id.
        var create = Assert.Single(spans, s => s.SpanId == phases[0].ParentSpanId);
        Assert.Equal((2, "/api/runs", "POST", ""), (create.Kind, create.Tag("http.route")?.TrimEnd('/'), create.Tag("http.request.method"), create.ParentSpanId));
        // One trace from the request that created the run, through the gate and the restart.
        Assert.All(ofRun, s => Assert.Equal(create.TraceId, s.TraceId));
        foreach (var phase in phases)
        {
            var name = phase.Name["phase ".Length..];
            Assert.Equal(create.SpanId, phase.ParentSpanId);
            Assert.Equal(name, phase.Tag("baton.phase"));

            var execution = Assert.Single(ofRun, s => s.ParentSpanId == phase.SpanId);
            Assert.Equal("execution model", execution.Name);
            Assert.Equal(name, execution.Tag("baton.phase"));
            Assert.StartsWith("exe", execution.Tag("baton.execution_id"), StringComparison.Ordinal);

            var chat = Assert.Single(ofRun, s => s.ParentSpanId == execution.SpanId);
            Assert.Equal(("chat test-model", 3), (chat.Name, chat.Kind));
            Assert.Equal(name, chat.Tag("baton.phase"));
            Assert.Equal(("chat", "test-model", "120", "30"),
                (chat.Tag("gen_ai.operation.name"), chat.Tag("gen_ai.request.model"), chat.Tag("gen_ai.usage.input_tokens"), chat.Tag("gen_ai.usage.output_tokens")));
            // The model's HTTP call is the chat's child.
            var call = Assert.Single(spans, s => s.ParentSpanId == chat.SpanId);
            Assert.Equal(("POST", 3), (call.Tag("http.request.method"), call.Kind));
        }
    }
}
