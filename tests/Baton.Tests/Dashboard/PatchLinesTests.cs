using Baton.Dashboard;

namespace Baton.Tests.Dashboard;

public class PatchLinesTests
{
    private const string Patch = """
        From 1234 Mon Sep 17 00:00:00 2001
        Subject: Fix

        diff --git a/x.txt b/x.txt
        index 83db48f..bf269f4 100644
        --- a/x.txt
        +++ b/x.txt
        @@ -1,3 +1,3 @@
         keep
        --- a removed line that looks like a header
        ++ an added line
         last
        \ No newline at end of file
        """;

    [Fact]
    public void Every_line_gets_its_kind_counting_the_hunk()
    {
        var kinds = PatchLines.Classify(Patch).Select(l => l.Kind).ToList();
        Assert.Equal(
            [
                PatchLineKind.Text, PatchLineKind.Text, PatchLineKind.Text,
                PatchLineKind.FileHeader, PatchLineKind.FileHeader, PatchLineKind.FileHeader, PatchLineKind.FileHeader,
                PatchLineKind.HunkHeader, PatchLineKind.Context, PatchLineKind.Removed, PatchLineKind.Added, PatchLineKind.Context,
                PatchLineKind.Note,
            ],
            kinds);
    }

    [Fact]
    public void The_html_keeps_the_signs_and_encodes_the_text()
    {
        // The encoder writes + as &#x2B;: the same character on the page.
        var html = ArtifactPages.PatchHtml("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-<b>old</b>\n+<i>new</i>\n").Value;
        Assert.Contains("<span class=\"patch-file\">--- a/f</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-hunk\">@@ -1 &#x2B;1 @@</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-del\">-&lt;b&gt;old&lt;/b&gt;</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"patch-add\">&#x2B;&lt;i&gt;new&lt;/i&gt;</span>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("diff --git a/x b/x\nindex 1..2\n", true)]
    [InlineData("notes\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", true)]
    [InlineData("# A heading\n\n--- \n+++ not a diff\n", false)]
    [InlineData("plain text", false)]
    public void Diffs_are_recognised_by_their_content(string text, bool diff) => Assert.Equal(diff, PatchLines.LooksLikeDiff(text));
}
