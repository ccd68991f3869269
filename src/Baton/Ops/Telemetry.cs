using Baton.Auth;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Baton.Ops;

/// <summary>
/// OpenTelemetry for a node (ADR 33): Baton's meter, ASP.NET Core's and the runtime's on /metrics (the Prometheus
/// exporter) and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, metrics and traces by OTLP. Without the endpoint no span is
/// sampled, so requests and phases make no activities at all.
/// </summary>
public static class Telemetry
{
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string OtlpProtocolSetting = "OTEL_EXPORTER_OTLP_PROTOCOL";

    public static IServiceCollection AddBatonTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<BatonMetrics>();
        services.AddBatonLogFormat();
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("baton", serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(BatonMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    // Each scrape is collected afresh: a cached answer would hide the last second's work from a test
                    // or a scrape right after it, and scrapes are rare (every 15-60 s).
                    .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            })
            .WithTracing(tracing =>
            {
                // First of the processors: spans are redacted before the exporter's, added below, takes them (ADR 40).
                tracing.AddProcessor(new RedactingSpanProcessor(Redactor.Process))
                    .AddSource(BatonTracing.SourceName)
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics"))
                    .AddHttpClientInstrumentation();
            });
        // Settings are read from the final configuration (tests and hosts add theirs after AddBaton).
        services.ConfigureOpenTelemetryMeterProvider((sp, b) =>
        {
            // A meter listener hears every meter of its name in the process: only this host's (and the process-wide
            // runtime's, which has no factory) are this node's. Several hosts share a process in tests.
            var ours = sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            b.AddView(instrument => instrument.Meter.Scope is { } scope && !ReferenceEquals(scope, ours) ? MetricStreamConfiguration.Drop : null);
            if (OtlpOf(sp.GetRequiredService<IConfiguration>(), "v1/metrics") is { } otlp)
            {
                b.AddReader(new PeriodicExportingMetricReader(new OtlpMetricExporter(otlp)));
            }
        });
        services.ConfigureOpenTelemetryTracerProvider((sp, b) =>
        {
            if (OtlpOf(sp.GetRequiredService<IConfiguration>(), "v1/traces") is { } otlp)
            {
                b.AddProcessor(new BatchActivityExportProcessor(new OtlpTraceExporter(otlp)));
            }
            else
            {
                b.SetSampler(new AlwaysOffSampler());
            }
        });
        return services;
    }

    /// <summary>/metrics, for viewers and above as before: run counts by profile are not for anonymous eyes.</summary>
    public static IEndpointRouteBuilder MapBatonMetrics(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").WithTags("Operations").RequireAuthorization(Roles.Viewer);
        return app;
    }

    /// <summary>
    /// The exporter's options, or null when OTLP is off. The protocol defaults to http/protobuf, the specification's
    /// default (the .NET exporter's own default is gRPC), and a base endpoint gets the signal's path as the
    /// specification says for OTEL_EXPORTER_OTLP_ENDPOINT.
    /// </summary>
    private static OtlpExporterOptions? OtlpOf(IConfiguration config, string signalPath)
    {
        if (string.IsNullOrWhiteSpace(config[OtlpEndpointSetting]) || !Uri.TryCreate(config[OtlpEndpointSetting], UriKind.Absolute, out var endpoint))
        {
            return null;
        }
        var grpc = string.Equals(config[OtlpProtocolSetting], "grpc", StringComparison.OrdinalIgnoreCase);
        return new OtlpExporterOptions
        {
            Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf,
            Endpoint = grpc ? endpoint : new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath),
        };
    }
}
