using Baton.Dashboard;

namespace Baton.Tests.Dashboard;

public class LineDiffTests
{
    private static string Script(LineDiffResult diff) =>
        string.Join("\n", diff.Lines.Select(l => (l.Op switch { DiffOp.Added => "+", DiffOp.Removed => "-", _ => " " }) + l.Text));

    /// <summary>Applying the script to the old text gives the new one: the kept and added lines are the new text in order.</summary>
    private static void AssertRebuilds(string[] from, string[] to, LineDiffResult diff)
    {
        Assert.Equal(from, diff.Lines.Where(l => l.Op != DiffOp.Added).Select(l => l.Text));
        Assert.Equal(to, diff.Lines.Where(l => l.Op != DiffOp.Removed).Select(l => l.Text));
    }

    [Fact]
    public void A_changed_line_is_one_removal_and_one_addition_with_line_numbers()
    {
        var diff = LineDiff.Compare("a\nb\nc\n", "a\nB\nc\n");
        Assert.Equal(" a\n-b\n+B\n c", Script(diff));
        Assert.Equal((1, 1), (diff.Added, diff.Removed));
        Assert.Equal(new DiffLine(DiffOp.Removed, "b", 2, null), diff.Lines[1]);
        Assert.Equal(new DiffLine(DiffOp.Added, "B", null, 2), diff.Lines[2]);
        Assert.Equal(new DiffLine(DiffOp.Same, "c", 3, 3), diff.Lines[3]);
    }

    [Fact]
    public void The_script_is_the_shortest_one()
    {
        // The classic Myers example: ABCABBA to CBABAC takes 5 edits.
        var from = "ABCABBA".Select(c => c.ToString()).ToArray();
        var to = "CBABAC".Select(c => c.ToString()).ToArray();
        var diff = LineDiff.Compare(from, to);
        Assert.Equal(5, diff.Added + diff.Removed);
        AssertRebuilds(from, to, diff);
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("", "x\ny")]
    [InlineData("x\ny", "")]
    [InlineData("same\n", "same\n")]
    [InlineData("a\nb\nc\nd\ne", "x\na\nc\ny\ne\nz")]
    [InlineData("1\n2\n3\n1\n2\n3", "3\n2\n1\n3\n2\n1")]
    public void Any_two_texts_rebuild_from_the_script(string from, string to)
    {
        var diff = LineDiff.Compare(from, to);
        Assert.Null(diff.TooLarge);
        AssertRebuilds(LineDiff.Lines(from), LineDiff.Lines(to), diff);
        Assert.Equal(from == to, diff.Identical);
    }

    [Fact]
    public void Random_texts_rebuild_and_number_their_lines()
    {
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var from = Enumerable.Range(0, random.Next(0, 30)).Select(_ => "l" + random.Next(0, 6)).ToArray();
            var to = Enumerable.Range(0, random.Next(0, 30)).Select(_ => "l" + random.Next(0, 6)).ToArray();
            var diff = LineDiff.Compare(from, to);
            AssertRebuilds(from, to, diff);
            Assert.Equal(Enumerable.Range(1, from.Length).Cast<int?>(), diff.Lines.Where(l => l.Op != DiffOp.Added).Select(l => l.OldNumber));
            Assert.Equal(Enumerable.Range(1, to.Length).Cast<int?>(), diff.Lines.Where(l => l.Op != DiffOp.Removed).Select(l => l.NewNumber));
        }
    }

    [Fact]
    public void Windows_line_ends_and_a_final_newline_do_not_count_as_lines()
    {
        Assert.Equal(["a", "b"], LineDiff.Lines("a\r\nb\r\n"));
        Assert.Equal(["a", "", "b"], LineDiff.Lines("a\n\nb"));
        Assert.Empty(LineDiff.Lines(""));
    }

    [Fact]
    public void Huge_inputs_are_refused_with_a_reason_instead_of_compared()
    {
        var big = string.Join("\n", Enumerable.Range(0, 15_000));
        var diff = LineDiff.Compare(big, big + "\nmore");
        Assert.NotNull(diff.TooLarge);
        Assert.Contains("too large to compare here (30,001 lines", diff.TooLarge, StringComparison.Ordinal);
        Assert.Empty(diff.Lines);
    }

    [Fact]
    public void Too_many_edits_are_refused_without_running_to_the_end()
    {
        var from = Enumerable.Range(0, 500).Select(i => "a" + i).ToArray();
        var to = Enumerable.Range(0, 500).Select(i => "b" + i).ToArray();
        var capped = LineDiff.Compare(from, to, maxEdits: 100);
        Assert.Contains("too many changes", capped.TooLarge, StringComparison.Ordinal);
        var full = LineDiff.Compare(from, to);
        Assert.Equal((500, 500), (full.Added, full.Removed));
    }

    [Fact]
    public void Long_unchanged_stretches_are_folded_keeping_context_around_changes()
    {
        var from = Enumerable.Range(1, 20).Select(i => "line " + i).ToArray();
        var to = from.Select(l => l == "line 10" ? "line ten" : l).ToArray();
        var shown = LineDiff.Collapse(LineDiff.Compare(from, to).Lines, context: 2);
        var first = Assert.IsType<DiffGap>(shown[0]);
        Assert.Equal(new DiffGap(7, 1, 1), first);
        Assert.Equal(["line 8", "line 9", "line 10", "line ten", "line 11", "line 12"], shown.Skip(1).Take(6).Cast<DiffLine>().Select(l => l.Text));
        Assert.Equal(new DiffGap(8, 13, 13), Assert.IsType<DiffGap>(shown[^1]));
    }

    [Fact]
    public void A_single_unchanged_line_between_changes_is_shown_not_folded()
    {
        var shown = LineDiff.Collapse(LineDiff.Compare("a\nx\nb\nc\nd\ny", "A\nx\nb\nc\nd\nY").Lines, context: 2);
        Assert.All(shown, p => Assert.IsType<DiffLine>(p));
    }
}
