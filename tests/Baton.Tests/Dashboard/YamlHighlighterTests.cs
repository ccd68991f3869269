using Baton.Dashboard;

namespace Baton.Tests.Dashboard;

public class YamlHighlighterTests
{
    private static string Show(IReadOnlyList<YamlToken> line) =>
        string.Concat(line.Select(t => t.Kind switch
        {
            YamlTokenKind.Text => t.Text,
            YamlTokenKind.Key => $"K({t.Text})",
            YamlTokenKind.String => $"S({t.Text})",
            YamlTokenKind.Comment => $"C({t.Text})",
            _ => $"P({t.Text})",
        }));

    private static List<string> Lines(string yaml) => YamlHighlighter.Tokenize(yaml).Select(Show).ToList();

    [Theory]
    [InlineData("name: gated", "K(name)P(:) gated")]
    [InlineData("  - name: draft", "  P(-) K(name)P(:) draft")]
    [InlineData("# a comment: with colon", "C(# a comment: with colon)")]
    [InlineData("timeout: 1h # one hour", "K(timeout)P(:) 1h C(# one hour)")]
    [InlineData("contains: \"iteration 2\"", "K(contains)P(:) S(\"iteration 2\")")]
    [InlineData("contains: 'it''s # not a comment'", "K(contains)P(:) S('it''s # not a comment')")]
    [InlineData("contains: \"say \\\"hi\\\" # no\" # yes", "K(contains)P(:) S(\"say \\\"hi\\\" # no\") C(# yes)")]
    [InlineData("produces: [a.md, \"b.md\"]", "K(produces)P(:) [a.md, S(\"b.md\")]")]
    [InlineData("url: http://example.com:8080/x", "K(url)P(:) http://example.com:8080/x")]
    [InlineData("http://example.com", "http://example.com")]
    [InlineData("\"quoted key\": v", "K(\"quoted key\")P(:) v")]
    [InlineData("contains: \"runs on", "K(contains)P(:) S(\"runs on)")]
    [InlineData("a#b: c", "K(a#b)P(:) c")]
    [InlineData("", "")]
    public void Lines_split_into_keys_strings_and_comments(string line, string expected) =>
        Assert.Equal(expected, Assert.Single(Lines(line)));

    [Fact]
    public void A_block_scalar_is_one_string_until_the_indentation_comes_back()
    {
        var lines = Lines("""
            templates:
              summary.md: |
                # Summary: {{title}}

                key: not a key
              other.md: >-
                folded
            checks: []
            """);
        Assert.Equal(
        [
            "K(templates)P(:)",
            "  K(summary.md)P(:) |",
            "S(    # Summary: {{title}})",
            "",
            "S(    key: not a key)",
            "  K(other.md)P(:) >-",
            "S(    folded)",
            "K(checks)P(:) []",
        ], lines);
    }

    [Fact]
    public void A_block_indicator_may_carry_a_comment()
    {
        Assert.Equal(["K(a)P(:) |- C(# text follows)", "S(  text)"], Lines("a: |- # text follows\n  text\n"));
    }

    [Fact]
    public void The_tokens_give_back_every_line_exactly()
    {
        var source = "name: x\r\n  - \"a\": 'b' # c\n\tweird: [\"unclosed\n<script>alert(1)</script>: &amp;\n";
        var rebuilt = YamlHighlighter.Tokenize(source).Select(line => string.Concat(line.Select(t => t.Text)));
        Assert.Equal(source.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n'), rebuilt);
    }

    [Fact]
    public void Every_built_in_profile_tokenizes_back_to_its_source()
    {
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot(), "profiles"), "*.yaml"))
        {
            var source = File.ReadAllText(file);
            var rebuilt = string.Join("\n", YamlHighlighter.Tokenize(source).Select(line => string.Concat(line.Select(t => t.Text))));
            Assert.Equal(source.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n'), rebuilt);
        }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("no Baton.slnx above the test binaries");
    }
}
