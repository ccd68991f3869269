using System.Security.Claims;
using System.Text.Json;
using Baton.Auth;
using Baton.Client;
using Baton.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Baton.Webhooks;

/// <summary>/api/webhooks (admin): subscribe a URL to gate and run events; list, delete, and see a webhook's deliveries.</summary>
public static class WebhooksApi
{
    public const int MaxUrlLength = 2048;
    public const int MinSecretLength = 16;
    public const int MaxSecretLength = 256;
    public const int MaxWebhooks = 100;

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/webhooks").WithTags("Webhooks").RequireAuthorization(Roles.Admin);
        group.MapPost("/", CreateAsync);
        group.MapGet("/", ListAsync);
        group.MapDelete("/{id}", DeleteAsync);
        group.MapGet("/{id}/deliveries", DeliveriesAsync);
        return app;
    }

    public static async Task<Results<Created<WebhookInfo>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateWebhookRequest? body, ClaimsPrincipal user, Database db, TimeProvider time)
    {
        var errors = Validate(body);
        if (errors.Count > 0)
        {
            return Problems.Invalid(errors);
        }
        var row = new WebhookRow
        {
            Id = Ids.New("whk", time),
            Url = body!.Url!,
            Secret = body.Secret!,
            Events = JsonSerializer.Serialize(body.Events!.Distinct(StringComparer.Ordinal).ToList()),
            CreatedBy = user.Actor(),
            CreatedAt = time.GetUtcNow().ToMs(),
        };
        var created = await db.WriteAsync(async (c, tx) =>
        {
            if ((await WebhookStore.ListAsync(c, tx)).Count >= MaxWebhooks)
            {
                return false;
            }
            await WebhookStore.InsertAsync(c, tx, row);
            return true;
        });
        return created
            ? TypedResults.Created($"/api/webhooks/{row.Id}", Info(row))
            : Problems.Conflict($"there are already {MaxWebhooks} webhooks; delete one first");
    }

    public static async Task<Ok<WebhookList>> ListAsync(Database db) =>
        TypedResults.Ok(new WebhookList((await db.ReadAsync(c => WebhookStore.ListAsync(c, null))).Select(Info).ToList()));

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, Database db) =>
        await db.WriteAsync((c, tx) => WebhookStore.DeleteAsync(c, tx, id))
            ? TypedResults.NoContent()
            : Problems.NotFound("webhook", id);

    public static async Task<Results<Ok<WebhookDeliveryList>, ProblemHttpResult, ValidationProblem>> DeliveriesAsync(string id, Database db, int? limit)
    {
        if (limit is < 1 or > 500)
        {
            return Problems.Invalid("limit", "limit must be from 1 to 500");
        }
        var (exists, rows) = await db.ReadAsync(async c => (await WebhookStore.ExistsAsync(c, id), await WebhookStore.DeliveriesAsync(c, id, limit ?? 50)));
        return exists
            ? TypedResults.Ok(new WebhookDeliveryList(rows.Select(d => new WebhookDeliveryInfo(
                d.Id, d.Event, d.RunId, d.Status, d.Attempts, d.LastStatusCode, d.LastError, Times.FromMs(d.CreatedAt), Times.FromMs(d.DeliveredAt))).ToList()))
            : Problems.NotFound("webhook", id);
    }

    private static WebhookInfo Info(WebhookRow w) =>
        new(w.Id, w.Url, JsonSerializer.Deserialize<List<string>>(w.Events)!, w.CreatedBy, Times.FromMs(w.CreatedAt));

    /// <summary>What is wrong with a webhook to create, per field (none when it can be created).</summary>
    public static Dictionary<string, string[]> Validate(CreateWebhookRequest? body)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body?.Url))
        {
            errors["url"] = ["url is required: where to POST the events"];
        }
        else if (body.Url.Length > MaxUrlLength)
        {
            errors["url"] = [$"url is longer than {MaxUrlLength} characters"];
        }
        else if (!Uri.TryCreate(body.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo))
        {
            errors["url"] = ["url must be an absolute http or https URL without user info"];
        }
        if (string.IsNullOrEmpty(body?.Secret))
        {
            errors["secret"] = ["secret is required: it signs every delivery (X-Baton-Signature)"];
        }
        else if (body.Secret.Length is < MinSecretLength or > MaxSecretLength)
        {
            errors["secret"] = [$"secret must be {MinSecretLength} to {MaxSecretLength} characters"];
        }
        if (body?.Events is not { Count: > 0 } events)
        {
            errors["events"] = [$"events is required: one or more of {string.Join(", ", WebhookDeliveries.Events)}"];
        }
        else if (events.Count > 20)
        {
            errors["events"] = ["events lists more than 20 entries"];
        }
        else if (events.FirstOrDefault(e => !WebhookDeliveries.Events.Contains(e)) is { } unknown)
        {
            errors["events"] = [$"unknown event '{Truncate(unknown)}'; one of {string.Join(", ", WebhookDeliveries.Events)}"];
        }
        else if (events.Contains(null!))
        {
            errors["events"] = ["events holds a null"];
        }
        return errors;
    }

    private static string Truncate(string? text) => text is null ? "null" : text.Length > 64 ? text[..64] + "…" : text;
}
