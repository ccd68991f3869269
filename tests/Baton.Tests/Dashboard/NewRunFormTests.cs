using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Baton.Client;
using Baton.Dashboard;
using Baton.Runs;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

public class NewRunFormTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role, "/runs/new");

    /// <summary>Posts the form as a browser does: multipart/form-data, with the page's antiforgery token and maybe a file.</summary>
    private static async Task<(HttpStatusCode Status, string Html, string? Location)> PostAsync(
        Browser browser, IDictionary<string, string> fields, (string Name, byte[] Content)? file = null, bool withToken = true)
    {
        using var content = new MultipartFormDataContent();
        if (withToken)
        {
            content.Add(new StringContent(browser.Token!), "__csrf");
        }
        foreach (var (name, value) in fields)
        {
            content.Add(new StringContent(value), name);
        }
        if (file is { } f)
        {
            var part = new ByteArrayContent(f.Content);
            part.Headers.ContentType = new MediaTypeHeaderValue("text/markdown");
            content.Add(part, "intake_file", f.Name);
        }
        using var response = await browser.Raw.PostAsync("/runs/new", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Location?.ToString());
    }

    private static string RunId(string? location)
    {
        Assert.NotNull(location);
        Assert.StartsWith("/runs/run_", location, StringComparison.Ordinal);
        return location["/runs/".Length..];
    }

    [Fact]
    public async Task The_form_is_for_operators_and_signed_in_people()
    {
        using var anonymous = new Browser(factory);
        var signedOut = await anonymous.GetAsync("/runs/new");
        Assert.Equal(HttpStatusCode.Redirect, signedOut.Status);
        Assert.Contains("/signin?return=%2Fruns%2Fnew", signedOut.Location, StringComparison.Ordinal);

        using var viewer = await SignedInAsync("viewer");
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/runs/new")).Status);
        await viewer.GetAsync("/");
        var posted = await PostAsync(viewer, new Dictionary<string, string> { ["profile"] = "straight", ["intake"] = "no" });
        Assert.Equal(HttpStatusCode.Forbidden, posted.Status);

        using var browser = await SignedInAsync("operator");
        var form = await browser.GetAsync("/runs/new?profile=straight");
        Assert.Equal(HttpStatusCode.OK, form.Status);
        Assert.Contains("enctype=\"multipart/form-data\"", form.Html, StringComparison.Ordinal);
        Assert.Contains("<input id=\"intake_file\" name=\"intake_file\" type=\"file\"", form.Html, StringComparison.Ordinal);
        Assert.Contains("<label for=\"budget_usd\">", form.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"straight\" selected>", form.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused()
    {
        using var browser = await SignedInAsync("operator");
        var posted = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight", ["intake"] = "x" }, withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains("Form expired", posted.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_creates_a_run_from_text_with_a_budget()
    {
        using var browser = await SignedInAsync("operator");
        var posted = await PostAsync(browser, new Dictionary<string, string>
        {
            ["profile"] = "straight",
            ["project_name"] = "typed",
            ["mode"] = "",
            ["budget_usd"] = "12.50",
            ["intake"] = "# Typed in the form",
        });
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        var run = await _admin.GetRunAsync(RunId(posted.Location));
        Assert.Equal("# Typed in the form", run.Intake);
        Assert.Equal("typed", run.ProjectName);
        Assert.Equal(12.50m, run.BudgetUsd);
    }

    [Fact]
    public async Task An_uploaded_file_is_the_intake_and_wins_over_the_text()
    {
        using var browser = await SignedInAsync("operator");
        var file = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("# From a file\n\nÜnïcode is fine.")).ToArray();
        var posted = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight", ["intake"] = "the text loses" }, ("prd.md", file));
        Assert.Equal(HttpStatusCode.Redirect, posted.Status);
        Assert.Equal("# From a file\n\nÜnïcode is fine.", (await _admin.GetRunAsync(RunId(posted.Location))).Intake);
    }

    [Fact]
    public async Task A_binary_file_is_refused_with_the_inputs_kept()
    {
        using var browser = await SignedInAsync("operator");
        var posted = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight", ["project_name"] = "kept-binary" }, ("logo.png", [0x89, 0x50, 0x4E, 0x47, 0, 0xFF]));
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains("&#x27;logo.png&#x27; is not UTF-8 text", posted.Html, StringComparison.Ordinal);
        Assert.Contains("value=\"kept-binary\"", posted.Html, StringComparison.Ordinal);
        Assert.Contains("aria-describedby=\"intake-help intake_file-error\"", posted.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_upload_gets_a_clear_message_and_keeps_the_other_inputs()
    {
        using var browser = await SignedInAsync("operator");
        var big = Encoding.UTF8.GetBytes(new string('a', RunCreation.MaxIntakeBytes + 1));
        var posted = await PostAsync(browser, new Dictionary<string, string>
        {
            ["profile"] = "straight",
            ["project_name"] = "kept <project>",
            ["mode"] = "manual",
            ["budget_usd"] = "3",
            ["intake"] = "draft text",
        }, ("huge.md", big));
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains("Intake is larger than 1024 KiB. Choose a smaller file.", posted.Html, StringComparison.Ordinal);
        Assert.Contains("value=\"kept &lt;project&gt;\"", posted.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"manual\" selected>", posted.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"straight\" selected>", posted.Html, StringComparison.Ordinal);
        Assert.Contains("value=\"3\"", posted.Html, StringComparison.Ordinal);
        Assert.Contains(">draft text</textarea>", posted.Html, StringComparison.Ordinal);

        var text = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight", ["intake"] = new string('b', RunCreation.MaxIntakeBytes + 1) });
        Assert.Equal(HttpStatusCode.BadRequest, text.Status);
        Assert.Contains("Intake is larger than 1024 KiB. Shorten it", text.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(NewRun.MaxFormBytes + 1024)]
    [InlineData(5 * 1024 * 1024)] // over the server's own 4 MiB request limit too
    public async Task A_body_over_the_forms_limit_is_a_clear_message_not_an_error(int bytes)
    {
        using var browser = await SignedInAsync("operator");
        var posted = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight" }, ("enormous.md", new byte[bytes]));
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains("The form was larger than 2 MiB, so it was not read.", posted.Html, StringComparison.Ordinal);
        Assert.Contains("action=\"/runs/new\"", posted.Html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc", "The budget must be an amount in US dollars")]
    [InlineData("-5", "The budget must be an amount in US dollars")]
    [InlineData("2000000", "budget_usd must be from 0 to 1000000")]
    public async Task A_bad_budget_is_shown_on_the_field(string budget, string message)
    {
        using var browser = await SignedInAsync("operator");
        var posted = await PostAsync(browser, new Dictionary<string, string> { ["profile"] = "straight", ["intake"] = "kept intake", ["budget_usd"] = budget });
        Assert.Equal(HttpStatusCode.BadRequest, posted.Status);
        Assert.Contains(message, posted.Html, StringComparison.Ordinal);
        Assert.Contains("id=\"budget_usd-error\"", posted.Html, StringComparison.Ordinal);
        Assert.Contains($"value=\"{budget}\" placeholder", posted.Html, StringComparison.Ordinal);
        Assert.Contains(">kept intake</textarea>", posted.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_files_must_be_utf8_without_nul_bytes()
    {
        Assert.Equal("héllo", NewRun.Text(Encoding.UTF8.GetBytes("\uFEFFhéllo")));
        Assert.Null(NewRun.Text([0xC3, 0x28]));
        Assert.Null(NewRun.Text("a\0b"u8));
    }
}
