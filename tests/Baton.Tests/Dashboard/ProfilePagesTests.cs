using System.Net;
using Baton.Client;
using Baton.Profiles;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

/// <summary>The profiles pages: the catalog with file errors, and a profile's diagram and highlighted YAML.</summary>
public sealed class ProfilePagesTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly BatonClient _admin = factory.Client();

    private Task<Browser> SignedInAsync(string role) => Browser.SignedInAsync(factory, role);

    /// <summary>As Razor encodes: an apostrophe is &amp;#x27;.</summary>
    private static string Encode(string text) => WebUtility.HtmlEncode(text).Replace("&#39;", "&#x27;", StringComparison.Ordinal);

    private string WriteProfile(string file, string yaml)
    {
        var path = Path.Combine(factory.DataDir, "profiles", file);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public async Task The_catalog_lists_built_in_and_file_profiles_and_every_error_with_its_line()
    {
        const string broken = """
            name: broken
            phases:
              - name: only
                gate:
                  reject_to: [nowhere]
            """;
        var path = WriteProfile("broken.yaml", broken);
        var expected = ProfileParser.Parse(broken, path).Errors;
        Assert.NotEmpty(expected);
        using var browser = await SignedInAsync("viewer");

        var page = await browser.GetAsync("/profiles");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("<td><a href=\"/profiles/software_delivery\">software_delivery</a></td>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<span>built-in</span>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/profiles/gated\">gated</a>", page.Html, StringComparison.Ordinal);
        Assert.Contains("<span>file <code>gated.yaml</code></span>", page.Html, StringComparison.Ordinal);
        foreach (var error in expected)
        {
            Assert.Contains($"<code>broken.yaml:{error.Line}</code> {Encode(error.Message)}", page.Html, StringComparison.Ordinal);
        }
        Assert.DoesNotContain(factory.DataDir, page.Html, StringComparison.Ordinal); // viewers see file names, not the server's paths
        var userProfile = await browser.GetAsync("/profiles/gated");
        Assert.Contains("<dd>gated.yaml</dd>", userProfile.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(factory.DataDir, userProfile.Html, StringComparison.Ordinal);

        var missing = await browser.GetAsync("/profiles/broken");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Contains("has errors and could not be loaded", missing.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_profile_shows_its_phase_diagram_and_highlighted_yaml()
    {
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync("/profiles/loop");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        const string summary = "Phases of loop in order: build (worker template), then verify (worker template, 1 check, on failure retries from build). At most 3 iterations.";
        Assert.Contains($"role=\"img\" aria-label=\"{summary}\"", page.Html, StringComparison.Ordinal);
        Assert.Contains($"<title>{summary}</title>", page.Html, StringComparison.Ordinal);
        Assert.Contains(">retry from build</text>", page.Html, StringComparison.Ordinal);
        Assert.Contains("&#x2713; 1 check", page.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"ln\" aria-hidden=\"true\">1</span><span class=\"y-key\">name</span><span class=\"y-punct\">:</span> loop\n", page.Html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"y-str\">&quot;iteration 2&quot;</span>", page.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Start a run with this profile", page.Html, StringComparison.Ordinal);

        var gated = await browser.GetAsync("/profiles/gated");
        Assert.Contains("class=\"pd-phase pd-gated\"", gated.Html, StringComparison.Ordinal);
        Assert.Contains("&#x25C6; gate", gated.Html, StringComparison.Ordinal);
        Assert.Contains(">reject &#x2192; draft</text>", gated.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operators_get_a_link_to_start_a_run_with_the_profile()
    {
        using var browser = await SignedInAsync("operator");
        var page = await browser.GetAsync("/profiles/straight");
        Assert.Contains("<a class=\"button\" href=\"/runs/new?profile=straight\">Start a run with this profile</a>", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Profile_text_is_encoded_everywhere()
    {
        WriteProfile("xss.yaml", """
            name: xss
            description: "<script>alert(1)</script>"
            phases:
              - name: one # <b>bold</b>
                produces: [one.md]
            """);
        using var browser = await SignedInAsync("viewer");
        foreach (var path in new[] { "/profiles", "/profiles/xss" })
        {
            var page = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.Status);
            Assert.DoesNotContain("<script>alert", page.Html, StringComparison.Ordinal);
            Assert.DoesNotContain("<b>bold", page.Html, StringComparison.Ordinal);
            Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", page.Html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unknown_profile_is_a_404_page()
    {
        using var browser = await SignedInAsync("viewer");
        var page = await browser.GetAsync("/profiles/no_such_profile");
        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Contains("There is no profile &#x27;no_such_profile&#x27;.", page.Html, StringComparison.Ordinal);
    }
}
