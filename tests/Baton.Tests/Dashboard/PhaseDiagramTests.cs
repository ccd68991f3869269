using Baton.Dashboard;
using Baton.Profiles;
using Baton.Tests.Support;

namespace Baton.Tests.Dashboard;

public class PhaseDiagramTests
{
    private static Profile Parse(string yaml)
    {
        var (profile, errors) = ProfileParser.Parse(yaml, "test.yaml");
        Assert.Empty(errors);
        return profile!;
    }

    private const string Team = """
        name: team
        max_iterations: 5
        phases:
          - name: pm
            produces: [req.md]
          - name: architect
            produces: [arch.md]
            gate:
              reject_to: [architect, pm]
          - name: engineer
            produces: [impl.md]
          - name: qa
            produces: [qa.md]
            checks:
              - artifact: qa.md
            on_failure:
              retry_from: engineer
        """;

    [Fact]
    public void Phases_are_boxes_left_to_right_joined_by_arrows()
    {
        var layout = PhaseDiagram.Layout(Parse(TestProfiles.Straight));
        Assert.Equal(["one", "two", "three"], layout.Boxes.Select(b => b.Name));
        Assert.Equal([12, 12 + 168 + 44, 12 + 2 * (168 + 44)], layout.Boxes.Select(b => b.X));
        Assert.All(layout.Boxes, b => Assert.Equal((12, 168, 78), (b.Y, b.Width, b.Height)));
        Assert.Equal(2, layout.Arrows.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(layout.Boxes[i].X + layout.Boxes[i].Width, layout.Arrows[i].X1);
            Assert.Equal(layout.Boxes[i + 1].X, layout.Arrows[i].X2);
            Assert.Equal(12 + 78 / 2, layout.Arrows[i].Y);
        }
        Assert.Empty(layout.BackArrows);
        Assert.Null(layout.Footnote);
        Assert.Equal(layout.Boxes[^1].X + 168 + 12, layout.Width);
        Assert.Equal(12 + 78 + 12, layout.Height);
    }

    [Fact]
    public void Gates_checks_and_loops_are_marked_and_nested_shortest_inside()
    {
        var layout = PhaseDiagram.Layout(Parse(Team));
        Assert.Equal([false, true, false, false], layout.Boxes.Select(b => b.Gate));
        Assert.Equal([0, 0, 0, 1], layout.Boxes.Select(b => b.Checks));

        // architect→architect (span 0), qa→engineer (1), architect→pm (1): shorter spans are shallower.
        Assert.Equal(
            [("architect", "architect", "reject"), ("architect", "pm", "reject"), ("qa", "engineer", "retry")],
            layout.BackArrows.Select(b => (b.From, b.To, b.Kind)).OrderBy(x => x.From).ThenBy(x => x.To));
        var self = layout.BackArrows.Single(b => b.To == "architect");
        var toPm = layout.BackArrows.Single(b => b.To == "pm");
        Assert.True(self.LabelY < toPm.LabelY);
        Assert.Equal(3, layout.BackArrows.Select(b => b.LabelY).Distinct().Count());
        Assert.Equal("reject → pm", toPm.Label);
        Assert.Equal("retry from engineer", layout.BackArrows.Single(b => b.Kind == "retry").Label);

        // A curve leaves the bottom of its phase and ends at the bottom of its target, left of where it left.
        var box = layout.Boxes[1];
        Assert.StartsWith($"M {box.X + box.Width / 2 + 22} {box.Y + box.Height} C", self.Path, StringComparison.Ordinal);
        Assert.EndsWith($"{box.X + box.Width / 2 - 22} {box.Y + box.Height + 4}", self.Path, StringComparison.Ordinal);
        Assert.EndsWith($"{layout.Boxes[0].X + box.Width / 2 - 22} {box.Y + box.Height + 4}", toPm.Path, StringComparison.Ordinal);

        Assert.Equal("A run goes round these loops at most 5 times (max_iterations).", layout.Footnote);
        Assert.True(layout.Height >= layout.BackArrows.Max(b => b.LabelY) + 20, "the labels and footnote fit");
    }

    [Fact]
    public void The_summary_says_the_diagram_in_words()
    {
        Assert.Equal(
            "Phases of team in order: pm (worker template), then architect (worker template, approval gate, rejects back to architect or pm), " +
            "then engineer (worker template), then qa (worker template, 1 check, on failure retries from engineer). At most 5 iterations.",
            PhaseDiagram.Summary(Parse(Team)));
        Assert.Equal(
            "Phases of straight in order: one (worker template), then two (worker template), then three (worker template).",
            PhaseDiagram.Summary(Parse(TestProfiles.Straight)));
    }

    [Fact]
    public void Long_names_are_shortened_with_the_full_name_in_a_title()
    {
        var layout = PhaseDiagram.Layout(Parse("""
            name: long
            phases:
              - name: a_very_long_phase_name_indeed
                produces: [x.md]
            """));
        var box = Assert.Single(layout.Boxes);
        Assert.Equal("a_very_long_phase_n…", box.Name);
        Assert.Equal("a_very_long_phase_name_indeed (template)", box.Title);
        Assert.Equal(320, layout.Width);
    }

    [Fact]
    public void Every_built_in_profile_lays_out_inside_its_canvas()
    {
        var catalog = new ProfileCatalog(Path.Combine(Path.GetTempPath(), "baton-no-such-folder-" + Guid.NewGuid().ToString("N")));
        var builtIns = catalog.Current().Profiles;
        Assert.NotEmpty(builtIns);
        foreach (var loaded in builtIns)
        {
            var layout = PhaseDiagram.Layout(loaded.Profile);
            Assert.Equal(loaded.Profile.Phases.Count, layout.Boxes.Count);
            Assert.All(layout.Boxes, b => Assert.True(b.X + b.Width <= layout.Width && b.Y + b.Height <= layout.Height));
            Assert.All(layout.BackArrows, a => Assert.True(a.LabelY < layout.Height));
        }
    }
}
