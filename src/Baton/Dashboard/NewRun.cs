using System.Globalization;
using System.Text;
using Baton.Auth;
using Baton.Client;
using Baton.Profiles;
using Baton.Runs;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;

namespace Baton.Dashboard;

/// <summary>Create a run from the browser (<c>/runs/new</c>): the same validation and creation as POST /api/runs.</summary>
public static class NewRun
{
    /// <summary>
    /// The most this form's body may be: room for an intake at its limit (1 MiB) as text or file, plus the other fields.
    /// Larger bodies are cut off while they are read, and answered with the form and a message rather than a bare 413.
    /// </summary>
    public const int MaxFormBytes = 2 * RunCreation.MaxIntakeBytes + 64 * 1024;

    private static readonly string[] Kept = ["profile", "project_name", "mode", "budget_usd", "intake"];

    public static void Map(RouteGroupBuilder pages)
    {
        pages.MapGet("/runs/new", Show).RequireAuthorization(Roles.Operator);
        pages.MapPost("/runs/new", CreateAsync).RequireAuthorization(Roles.Operator)
            .WithMetadata(new RequestSizeLimitAttribute(MaxFormBytes))
            .WithFormOptions(multipartBodyLengthLimit: MaxFormBytes, valueLengthLimit: MaxFormBytes);
    }

    /// <summary>The empty form; <c>?profile=</c> preselects a profile.</summary>
    public static IResult Show(HttpContext http, ProfileCatalog catalog) =>
        Render(catalog, new Dictionary<string, string> { ["profile"] = http.Request.Query["profile"].ToString() }, null, 200);

    public static async Task<IResult> CreateAsync(HttpContext http, IAntiforgery antiforgery, [AsParameters] RunServices services)
    {
        var catalog = services.Catalog;
        // Over the form's limits the body is not read any further, so nothing the person typed can be shown again.
        var (form, badForm) = await DashboardForms.ReadAsync(http, antiforgery, () => Render(catalog, new Dictionary<string, string>(), new Dictionary<string, string[]>
        {
            ["form"] = [$"The form was larger than {MaxFormBytes / 1024 / 1024} MiB, so it was not read. An intake may be at most {RunCreation.MaxIntakeBytes / 1024} KiB: choose a smaller file or shorten the text, and fill in the form again."],
        }, 400));
        if (form is null)
        {
            return badForm!;
        }
        var values = Kept.ToDictionary(k => k, k => form[k].ToString());
        var errors = new Dictionary<string, string[]>();
        string? Field(string name) => QueryText.Blank(values[name]);

        decimal? budget = null;
        if (Field("budget_usd") is { } text)
        {
            if (decimal.TryParse(text.Trim().TrimStart('$'), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var b))
            {
                budget = b;
            }
            else
            {
                errors["budget_usd"] = ["The budget must be an amount in US dollars, like 25 or 12.50, or empty for the profile's budget."];
            }
        }

        var intake = Field("intake");
        var file = form.Files.GetFile("intake_file");
        var fromFile = file is { Length: > 0 };
        if (fromFile)
        {
            intake = await ReadTextAsync(file!, http.RequestAborted);
            if (intake is null)
            {
                errors["intake_file"] = [$"'{file!.FileName}' is not UTF-8 text; choose a text or Markdown file."];
            }
        }
        if (errors.Count > 0)
        {
            return Render(catalog, values, errors, 400);
        }

        var request = new CreateRunRequest(Field("profile"), intake, Field("project_name")?.Trim(), Field("mode"), budget);
        var outcome = await RunCreation.CreateAsync(services, request, null, http.User);
        if (outcome is CreateRunOutcome.Created(var run))
        {
            return Results.Redirect(DashboardPages.RunUrl(run.Id));
        }
        var intakeField = fromFile ? "intake_file" : "intake";
        var problems = outcome switch
        {
            CreateRunOutcome.Invalid(var invalid) => invalid.ToDictionary(e => e.Key == "intake" ? intakeField : e.Key, e => e.Value),
            CreateRunOutcome.TooLarge(var detail) => new Dictionary<string, string[]> { [intakeField] = [Sentence(detail) + (fromFile ? " Choose a smaller file." : " Shorten it, or split the work into several runs.")] },
            CreateRunOutcome.Forbidden(var detail) => new Dictionary<string, string[]> { ["form"] = [detail] },
            CreateRunOutcome.QuotaReached quota => new Dictionary<string, string[]> { ["form"] = [quota.Detail] },
            CreateRunOutcome.KeyReused(var detail) => new Dictionary<string, string[]> { ["form"] = [detail] },
            _ => new Dictionary<string, string[]> { ["form"] = ["The run could not be created."] },
        };
        return Render(catalog, values, problems, 400);
    }

    /// <summary>The file as text, or null when it is not UTF-8 text (invalid UTF-8, or NUL bytes as binary files have).</summary>
    public static async Task<string?> ReadTextAsync(IFormFile file, CancellationToken ct)
    {
        using var copy = new MemoryStream();
        await file.CopyToAsync(copy, ct);
        return Text(copy.ToArray());
    }

    public static string? Text(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
        if (bytes.StartsWith(bom))
        {
            bytes = bytes[bom.Length..];
        }
        if (bytes.Contains((byte)0))
        {
            return null;
        }
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static string Sentence(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..] + (text.EndsWith('.') ? "" : ".");

    private static IResult Render(ProfileCatalog catalog, IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, string[]>? errors, int status) =>
        DashboardPages.Render<Components.NewRunPage>(new
        {
            Profiles = catalog.Current().Profiles.Select(p => p.Profile).ToList(),
            Values = values,
            Errors = errors ?? new Dictionary<string, string[]>(),
        }, status);
}
