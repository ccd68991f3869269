using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Metadata;

namespace Baton;

/// <summary>
/// A 200 with <typeparamref name="T"/> as JSON, written whole by its source-generated serializer, then sent.
/// </summary>
/// <remarks>
/// Not <c>TypedResults.Json</c>: that streams, and System.Text.Json streams through the generated code only while the
/// answers stay under half its buffer (8 KiB); a page of 50 runs is about 18 KiB, so every list went back to the
/// reflection-built metadata loop. Written into the response's pipe here, the answer is sent by one flush.
/// </remarks>
public sealed class JsonAnswer<T>(T value, JsonTypeInfo<T> typeInfo) : IResult, IStatusCodeHttpResult, IValueHttpResult<T>, IEndpointMetadataProvider
{
    public T Value => value;

    public int StatusCode => StatusCodes.Status200OK;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = StartOk(httpContext);
        using (var writer = new Utf8JsonWriter(response.BodyWriter))
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
        }
        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }

    /// <summary>A 200 of JSON begun: its status and content type set, its body to write.</summary>
    internal static HttpResponse StartOk(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        return response;
    }

    /// <summary>What the OpenAPI document says of the endpoint, as for <c>Ok&lt;T&gt;</c>.</summary>
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}

/// <summary>A 200 with a <typeparamref name="T"/> already written as JSON (UTF-8): an answer kept to be sent again.</summary>
public sealed class JsonBytesAnswer<T>(ReadOnlyMemory<byte> json) : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    public int StatusCode => StatusCodes.Status200OK;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public async Task ExecuteAsync(HttpContext httpContext) =>
        await JsonAnswer<T>.StartOk(httpContext).BodyWriter.WriteAsync(json, httpContext.RequestAborted);

    /// <inheritdoc cref="JsonAnswer{T}.PopulateMetadata"/>
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => JsonAnswer<T>.PopulateMetadata(method, builder);
}
