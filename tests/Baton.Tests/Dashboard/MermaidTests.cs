using Baton.Dashboard;

namespace Baton.Tests.Dashboard;

public class MermaidTests
{
    [Fact]
    public void Nodes_shapes_and_labels_are_read()
    {
        var chart = MermaidParser.Parse("""
            graph LR
              A[Start here] --> B(Rounded)
              B --> C{Decide?}
              C --> D((Circle))
              D --> E([Stadium])
            """)!;
        Assert.Equal(FlowDirection.LeftRight, chart.Direction);
        Assert.Equal(
            [new FlowNode("A", "Start here", NodeShape.Rectangle), new FlowNode("B", "Rounded", NodeShape.Rounded), new FlowNode("C", "Decide?", NodeShape.Diamond),
             new FlowNode("D", "Circle", NodeShape.Circle), new FlowNode("E", "Stadium", NodeShape.Stadium)],
            chart.Nodes);
        Assert.Equal(4, chart.Edges.Count);
    }

    [Fact]
    public void Links_styles_labels_chains_semicolons_and_comments_are_read()
    {
        var chart = MermaidParser.Parse("""
            flowchart TD
            %% a comment
            A --> B --> C; C --- D
            D -.-> E
            E ==> F
            F -->|yes| G
            G -- no way --> A
            classDef hot fill:#f00
            class A hot
            style B fill:#0f0
            click A "https://example.com"
            """)!;
        Assert.Equal(FlowDirection.TopDown, chart.Direction);
        Assert.Equal(["A", "B", "C", "D", "E", "F", "G"], chart.Nodes.Select(n => n.Id));
        Assert.Equal(
            [
                new FlowEdge("A", "B", EdgeStyle.Arrow, null), new FlowEdge("B", "C", EdgeStyle.Arrow, null), new FlowEdge("C", "D", EdgeStyle.Line, null),
                new FlowEdge("D", "E", EdgeStyle.Dotted, null), new FlowEdge("E", "F", EdgeStyle.Thick, null),
                new FlowEdge("F", "G", EdgeStyle.Arrow, "yes"), new FlowEdge("G", "A", EdgeStyle.Arrow, "no way"),
            ],
            chart.Edges);
    }

    [Theory]
    [InlineData("graph TB\nA-->B", FlowDirection.TopDown)]
    [InlineData("graph BT\nA-->B", FlowDirection.BottomUp)]
    [InlineData("graph RL\nA-->B", FlowDirection.RightLeft)]
    [InlineData("graph\nA-->B", FlowDirection.TopDown)]
    [InlineData("graph TD; A-->B", FlowDirection.TopDown)]
    public void Every_direction_is_read(string source, FlowDirection direction) =>
        Assert.Equal(direction, MermaidParser.Parse(source)!.Direction);

    [Theory]
    [InlineData("sequenceDiagram\nAlice->>Bob: Hi")]
    [InlineData("classDiagram\nA <|-- B")]
    [InlineData("graph TD\nsubgraph one\nA-->B\nend")]
    [InlineData("graph XY\nA-->B")]
    [InlineData("graph TD\nA & B --> C")]
    [InlineData("graph TD\nA[unclosed --> B")]
    [InlineData("")]
    [InlineData("graph TD")]
    public void What_it_cannot_read_is_not_a_flowchart(string source) => Assert.Null(MermaidParser.Parse(source));

    [Fact]
    public void A_later_label_names_a_node_first_seen_bare()
    {
        var chart = MermaidParser.Parse("graph TD\nA --> B\nB[The B]")!;
        Assert.Equal("The B", chart.Nodes.Single(n => n.Id == "B").Label);
    }

    [Fact]
    public void Layers_are_longest_paths_and_cycles_do_not_loop()
    {
        var chart = MermaidParser.Parse("graph TD\nA --> B --> C\nA --> C\nC --> A\nC --> D\nD --> D")!;
        var layers = FlowchartLayout.Layers(chart);
        Assert.Equal(new Dictionary<string, int> { ["A"] = 0, ["B"] = 1, ["C"] = 2, ["D"] = 3 }, layers);
    }

    [Fact]
    public void Nodes_within_a_layer_follow_their_parents()
    {
        // X's child is listed first but hangs under Y's sibling order: barycentres put children under their parents.
        var chart = MermaidParser.Parse("graph TD\nR --> X\nR --> Y\nY --> y1\nX --> x1")!;
        var rows = FlowchartLayout.Order(chart, FlowchartLayout.Layers(chart));
        Assert.Equal(["R"], rows[0]);
        Assert.Equal(["X", "Y"], rows[1]);
        Assert.Equal(["x1", "y1"], rows[2]);
    }

    [Fact]
    public void Top_down_layout_puts_layers_below_each_other_without_overlaps()
    {
        var layout = FlowchartLayout.Compute(MermaidParser.Parse("graph TD\nA --> B\nA --> C\nB --> D\nC --> D")!);
        var at = layout.Nodes.ToDictionary(n => n.Node.Id);
        Assert.True(at["A"].Y < at["B"].Y && at["B"].Y < at["D"].Y);
        Assert.Equal(at["B"].Y, at["C"].Y);
        Assert.True(at["B"].X + at["B"].Width / 2 < at["C"].X - at["C"].Width / 2, "B and C side by side");
        Assert.All(layout.Nodes, n =>
        {
            Assert.InRange(n.X - n.Width / 2, 0, layout.Width);
            Assert.InRange(n.Y + n.Height / 2, 0, layout.Height);
        });
        // An edge leaves the bottom of its source and ends on the top of its target.
        var ab = layout.Edges.Single(e => e.Edge.To == "B");
        Assert.Equal(at["A"].Y + at["A"].Height / 2, ab.Points[0].Y);
        Assert.Equal(at["B"].Y - at["B"].Height / 2, ab.Points[^1].Y);
        Assert.Equal(4, ab.Points.Count); // an elbow: B is not under A
    }

    [Fact]
    public void Left_right_and_right_left_layouts_run_along_x()
    {
        var lr = FlowchartLayout.Compute(MermaidParser.Parse("graph LR\nA --> B")!).Nodes.ToDictionary(n => n.Node.Id);
        Assert.True(lr["A"].X < lr["B"].X);
        Assert.Equal(lr["A"].Y, lr["B"].Y);
        var rl = FlowchartLayout.Compute(MermaidParser.Parse("graph RL\nA --> B")!).Nodes.ToDictionary(n => n.Node.Id);
        Assert.True(rl["A"].X > rl["B"].X);
        var bt = FlowchartLayout.Compute(MermaidParser.Parse("graph BT\nA --> B")!).Nodes.ToDictionary(n => n.Node.Id);
        Assert.True(bt["A"].Y > bt["B"].Y);
    }

    [Theory]
    [InlineData("TD")]
    [InlineData("BT")]
    [InlineData("LR")]
    [InlineData("RL")]
    public void Edges_go_round_nodes_not_through_them(string direction)
    {
        // A long edge (A to E), back edges (E to B, D to A), a self loop and a diamond.
        var layout = FlowchartLayout.Compute(MermaidParser.Parse($"graph {direction}\nA --> B --> C --> D --> E\nA --> E\nB --> F{{F?}} --> E\nE --> B\nD --> A\nF --> F")!);
        Assert.All(layout.Edges, edge =>
        {
            Assert.True(edge.Points.Count >= 2);
            foreach (var node in layout.Nodes.Where(n => n.Node.Id != edge.Edge.From && n.Node.Id != edge.Edge.To))
            {
                double left = node.X - node.Width / 2 + 1, right = node.X + node.Width / 2 - 1, top = node.Y - node.Height / 2 + 1, bottom = node.Y + node.Height / 2 - 1;
                foreach (var (p, q) in edge.Points.Zip(edge.Points.Skip(1)))
                {
                    // Every segment is straight along x or y.
                    Assert.True(Math.Abs(p.X - q.X) < 0.01 || Math.Abs(p.Y - q.Y) < 0.01, $"{edge.Edge} has a slanted segment");
                    var crosses = Math.Max(p.X, q.X) > left && Math.Min(p.X, q.X) < right && Math.Max(p.Y, q.Y) > top && Math.Min(p.Y, q.Y) < bottom;
                    Assert.False(crosses, $"{edge.Edge.From}->{edge.Edge.To} crosses {node.Node.Id}");
                }
            }
            Assert.All(edge.Points, p =>
            {
                Assert.InRange(p.X, 0, layout.Width);
                Assert.InRange(p.Y, 0, layout.Height);
            });
        });
    }

    [Fact]
    public void The_svg_has_a_title_encoded_labels_arrowheads_and_no_inline_styles()
    {
        var svg = FlowchartSvg.FromSource("graph TD\nA[<script>alert(1)</script>] -->|a & b| B{\"ok?\"}\nB -.-> C\nC --- A", "t1").Value;
        Assert.Contains("<svg class=\"flowchart\"", svg, StringComparison.Ordinal);
        Assert.Contains("role=\"img\"", svg, StringComparison.Ordinal);
        Assert.Contains("<title id=\"t1-title\">Flowchart: ", svg, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", svg, StringComparison.Ordinal);
        Assert.Contains(">a &amp; b</text>", svg, StringComparison.Ordinal);
        Assert.Contains(">ok?</text>", svg, StringComparison.Ordinal);
        Assert.Contains("<polygon", svg, StringComparison.Ordinal);
        Assert.Contains("marker-end=\"url(#t1-arrow)\"", svg, StringComparison.Ordinal);
        Assert.Contains("flow-edge-dotted", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_diagrams_are_shown_as_encoded_source_with_a_note()
    {
        var html = FlowchartSvg.FromSource("sequenceDiagram\nAlice->>Bob: <b>hi</b>", "t2").Value;
        Assert.Contains("only flowcharts are drawn here", html, StringComparison.Ordinal);
        Assert.Contains("Alice-&gt;&gt;Bob: &lt;b&gt;hi&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg", html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flowchart_too_large_to_draw_is_shown_as_source()
    {
        var source = "graph TD\n" + string.Join("\n", Enumerable.Range(0, FlowchartSvg.MaxNodes).Select(i => $"n{i} --> n{i + 1}"));
        var html = FlowchartSvg.FromSource(source, "big").Value;
        Assert.Contains("too large to draw here", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg", html, StringComparison.Ordinal);
        Assert.Contains("<svg", FlowchartSvg.FromSource("graph TD\n" + string.Join("\n", Enumerable.Range(0, 100).Select(i => $"n{i} --> n{i + 1}")), "ok").Value, StringComparison.Ordinal);
    }
}
