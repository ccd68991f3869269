using System.Diagnostics;
using Baton.Agents;

namespace Baton.Ops;

/// <summary>
/// Baton's spans (ADR 33). A run's trace starts with the request that created it: its context is stored on the run
/// (<c>runs.trace_parent</c>), and every phase span, on any node, after a gate or a restart, is a child of it. Each phase
/// attempt is a span, its execution a child span, and the agent's work (a program or a model's chat) a grandchild
/// named as the GenAI conventions say. Without a listener (OTLP off) <see cref="Source"/> starts nothing.
/// </summary>
public static class BatonTracing
{
    public const string SourceName = "Baton";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The context to store on a new run: the current span's (the creating request's), in W3C form.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C, Recorded: true } current ? current.Id : null;

    public static Activity? StartPhase(string runId, string? traceParent, string phase, int iteration, int attempt, string worker)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        // A run from before tracing was on (or created without a sampled request) gets a trace of its own per phase.
        ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent);
        var span = Source.StartActivity($"phase {phase}", ActivityKind.Internal, parent);
        span?.SetTag("baton.run_id", runId)
            .SetTag("baton.phase", phase)
            .SetTag("baton.iteration", iteration)
            .SetTag("baton.attempt", attempt)
            .SetTag("baton.worker", worker);
        return span;
    }

    public static Activity? StartExecution(string runId, string phase, string executionId, string worker)
    {
        var span = Source.StartActivity($"execution {worker}");
        span?.SetTag("baton.run_id", runId)
            .SetTag("baton.phase", phase)
            .SetTag("baton.execution_id", executionId)
            .SetTag("baton.worker", worker);
        return span;
    }

    /// <summary>
    /// The agent's work: `chat {model}` for a model worker, `invoke_agent {worker}` for a program (which calls its
    /// model itself, where Baton cannot see). The model's own HTTP calls are children (HttpClient's spans).
    /// </summary>
    public static Activity? StartAgent(string runId, string phase, WorkerDefinition worker)
    {
        var chat = worker.Kind == WorkerKinds.OpenAi;
        var operation = chat ? "chat" : "invoke_agent";
        var span = Source.StartActivity(chat ? $"chat {worker.Config.Model}" : $"invoke_agent {worker.Name}", ActivityKind.Client);
        span?.SetTag("gen_ai.operation.name", operation)
            .SetTag("gen_ai.provider.name", chat ? "openai" : null)
            .SetTag("gen_ai.agent.name", worker.Name)
            .SetTag("gen_ai.request.model", worker.Config.Model)
            .SetTag("baton.run_id", runId)
            .SetTag("baton.phase", phase);
        return span;
    }

    public static void AgentFinished(Activity? span, AgentUsage usage, string? error)
    {
        if (span is null)
        {
            return;
        }
        span.SetTag("gen_ai.usage.input_tokens", usage.TokensIn).SetTag("gen_ai.usage.output_tokens", usage.TokensOut);
        if (error is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, error);
        }
    }
}
