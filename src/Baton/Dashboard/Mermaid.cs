using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

using Baton.Dashboard.Components;

namespace Baton.Dashboard;

public enum FlowDirection
{
    TopDown,
    BottomUp,
    LeftRight,
    RightLeft,
}

public enum NodeShape
{
    Rectangle,
    Rounded,
    Diamond,
    Circle,
    Stadium,
}

public enum EdgeStyle
{
    Arrow,
    Line,
    Dotted,
    Thick,
}

public sealed record FlowNode(string Id, string Label, NodeShape Shape);

public sealed record FlowEdge(string From, string To, EdgeStyle Style, string? Label);

public sealed record Flowchart(FlowDirection Direction, IReadOnlyList<FlowNode> Nodes, IReadOnlyList<FlowEdge> Edges);

/// <summary>
/// Reads the flowchart subset of Mermaid: `graph`/`flowchart` with a direction, nodes with the common shapes, the
/// common links with or without labels, chains, `;` or newline separated, `%%` comments. Styling lines are skipped.
/// Anything else (other diagram types, subgraphs, `&amp;`) is not understood: <see cref="Parse"/> returns null.
/// </summary>
public static partial class MermaidParser
{
    public static Flowchart? Parse(string source)
    {
        var statements = Statements(source);
        if (statements.Count == 0)
        {
            return null;
        }
        var header = HeaderPattern().Match(statements[0]);
        if (!header.Success)
        {
            return null;
        }
        var direction = header.Groups["dir"].Value.ToUpperInvariant() switch
        {
            "" or "TD" or "TB" => FlowDirection.TopDown,
            "BT" => FlowDirection.BottomUp,
            "LR" => FlowDirection.LeftRight,
            "RL" => FlowDirection.RightLeft,
            _ => (FlowDirection?)null,
        };
        if (direction is null)
        {
            return null;
        }
        var nodes = new List<FlowNode>();
        var labelled = new HashSet<string>(StringComparer.Ordinal);
        var edges = new List<FlowEdge>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var statement in statements.Skip(1))
        {
            if (StylingPattern().IsMatch(statement))
            {
                continue;
            }
            try
            {
                if (!ParseStatement(statement, nodes, index, labelled, edges))
                {
                    return null;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological line (the lazy label patterns can backtrack): not drawn, shown as source.
                return null;
            }
        }
        return nodes.Count == 0 ? null : new Flowchart(direction.Value, nodes, edges);
    }

    /// <summary>Non-empty statements without comments, split at newlines and at `;` outside labels.</summary>
    private static List<string> Statements(string source)
    {
        var statements = new List<string>();
        foreach (var rawLine in source.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith("%%", StringComparison.Ordinal))
            {
                continue;
            }
            var current = new StringBuilder();
            int depth = 0;
            bool quoted = false, piped = false;
            foreach (var c in line)
            {
                if (c == '"')
                {
                    quoted = !quoted;
                }
                else if (!quoted && c == '|')
                {
                    piped = !piped;
                }
                else if (!quoted && c is '[' or '(' or '{')
                {
                    depth++;
                }
                else if (!quoted && c is ']' or ')' or '}' && depth > 0)
                {
                    depth--;
                }
                if (c == ';' && depth == 0 && !quoted && !piped)
                {
                    statements.Add(current.ToString().Trim());
                    current.Clear();
                    continue;
                }
                current.Append(c);
            }
            statements.Add(current.ToString().Trim());
        }
        return statements.Where(s => s.Length > 0).ToList();
    }

    /// <summary>A node, then any number of (link, node): `A --> B -- text --> C`.</summary>
    private static bool ParseStatement(string statement, List<FlowNode> nodes, Dictionary<string, int> index, HashSet<string> labelled, List<FlowEdge> edges)
    {
        var at = 0;
        var first = ReadNode(statement, ref at, nodes, index, labelled);
        if (first is null)
        {
            return false;
        }
        var previous = first;
        while (true)
        {
            SkipSpaces(statement, ref at);
            if (at == statement.Length)
            {
                return true;
            }
            var link = LinkPattern().Match(statement, at);
            if (!link.Success || link.Index != at)
            {
                return false;
            }
            at += link.Length;
            SkipSpaces(statement, ref at);
            var next = ReadNode(statement, ref at, nodes, index, labelled);
            if (next is null)
            {
                return false;
            }
            edges.Add(new FlowEdge(previous, next, StyleOf(link), LabelOf(link)));
            previous = next;
        }
    }

    private static EdgeStyle StyleOf(Match link)
    {
        var arrow = link.Groups["arrow"].Value;
        return arrow.Contains('.', StringComparison.Ordinal) ? EdgeStyle.Dotted
            : arrow.Contains('=', StringComparison.Ordinal) ? EdgeStyle.Thick
            : arrow.EndsWith('>') ? EdgeStyle.Arrow
            : EdgeStyle.Line;
    }

    private static string? LabelOf(Match link)
    {
        var text = link.Groups["pipe"].Success ? link.Groups["pipe"].Value : link.Groups["text"].Success ? link.Groups["text"].Value : null;
        return string.IsNullOrWhiteSpace(text) ? null : Unquote(text.Trim());
    }

    private static string? ReadNode(string s, ref int at, List<FlowNode> nodes, Dictionary<string, int> index, HashSet<string> labelled)
    {
        SkipSpaces(s, ref at);
        var id = IdPattern().Match(s, at);
        if (!id.Success || id.Index != at)
        {
            return null;
        }
        at += id.Length;
        string? label = null;
        var shape = NodeShape.Rectangle;
        foreach (var (open, close, kind) in Shapes)
        {
            if (string.CompareOrdinal(s, at, open, 0, open.Length) != 0)
            {
                continue;
            }
            var end = s.IndexOf(close, at + open.Length, StringComparison.Ordinal);
            if (end < 0)
            {
                return null;
            }
            label = Unquote(s[(at + open.Length)..end].Trim());
            shape = kind;
            at = end + close.Length;
            break;
        }
        // An index, not a search of the list: a 50 KB source can name thousands of nodes before the size checks see them.
        if (!index.TryGetValue(id.Value, out var existing))
        {
            index[id.Value] = nodes.Count;
            nodes.Add(new FlowNode(id.Value, label ?? id.Value, shape));
        }
        else if (label is not null && labelled.Add(id.Value))
        {
            nodes[existing] = new FlowNode(id.Value, label, shape);
        }
        if (label is not null)
        {
            labelled.Add(id.Value);
        }
        return id.Value;
    }

    // Longest openers first: `((` before `(`, `([` before `(`.
    private static readonly (string Open, string Close, NodeShape Shape)[] Shapes =
    [
        ("((", "))", NodeShape.Circle),
        ("([", "])", NodeShape.Stadium),
        ("[", "]", NodeShape.Rectangle),
        ("(", ")", NodeShape.Rounded),
        ("{", "}", NodeShape.Diamond),
    ];

    private static string Unquote(string text) =>
        text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1] : text;

    private static void SkipSpaces(string s, ref int at)
    {
        while (at < s.Length && char.IsWhiteSpace(s[at]))
        {
            at++;
        }
    }

    [GeneratedRegex(@"^(?:graph|flowchart)(?:\s+(?<dir>[A-Za-z]{2}))?$", RegexOptions.IgnoreCase)]
    private static partial Regex HeaderPattern();

    [GeneratedRegex(@"^(?:classDef|class|style|click|linkStyle)\b")]
    private static partial Regex StylingPattern();

    [GeneratedRegex(@"[A-Za-z0-9_]+")]
    private static partial Regex IdPattern();

    // A link: `-->`, `---`, `-.->`, `==>` (any length), optionally `|label|` after it; or the label inside: `-- text -->`.
    [GeneratedRegex(@"\G(?:(?<arrow>-{2,}>|-{3,}|-\.+->|={2,}>)(?:\s*\|(?<pipe>[^|]*)\|)?|--\s*(?<text>[^\s>|-][^|>]*?)\s*(?<arrow>-{2,}>)|--\s*(?<text>[^\s>|-][^|>]*?)\s*(?<arrow>-{3,})|-\.\s*(?<text>[^\s.][^|>]*?)\s*(?<arrow>\.+->)|==\s*(?<text>[^\s=][^|>]*?)\s*(?<arrow>={2,}>))", RegexOptions.None, matchTimeoutMilliseconds: 500)]
    private static partial Regex LinkPattern();
}

/// <summary>A node placed: its layer (rank along the flow), its order within the layer, and its box's centre and size.</summary>
public sealed record PlacedNode(FlowNode Node, int Layer, int Order, double X, double Y, double Width, double Height);

public readonly record struct Point(double X, double Y);

/// <summary>An edge as drawn: a polyline from box edge to box edge, and where its label goes.</summary>
public sealed record PlacedEdge(FlowEdge Edge, IReadOnlyList<Point> Points, Point LabelAt);

public sealed record FlowLayout(FlowDirection Direction, double Width, double Height, IReadOnlyList<PlacedNode> Nodes, IReadOnlyList<PlacedEdge> Edges);

/// <summary>
/// A layered layout: cycles broken by dropping back edges (found depth-first) from the ranking, longest-path layers,
/// a few barycentre sweeps to order nodes within layers, then boxes placed along the flow and edges drawn straight
/// or with one elbow. Computed top-down and turned for the other directions.
/// </summary>
public static class FlowchartLayout
{
    public const double NodeHeight = 40;
    private const double CharWidth = 7.5;
    private const double LayerGap = 56;
    private const double NodeGap = 28;
    private const double Margin = 16;

    public static double NodeWidth(FlowNode node)
    {
        var text = Math.Max(node.Label.Length, 1) * CharWidth + 28;
        return node.Shape switch
        {
            NodeShape.Diamond => Math.Max(80, text * 1.4),
            NodeShape.Circle => Math.Max(NodeHeight, text),
            _ => Math.Max(60, text),
        };
    }

    public static double NodeHeightOf(FlowNode node) => node.Shape switch
    {
        NodeShape.Diamond => NodeHeight * 1.4,
        NodeShape.Circle => Math.Max(NodeHeight, NodeWidth(node)),
        _ => NodeHeight,
    };

    /// <summary>Each node's layer: the longest path to it from a source, ignoring the edges that close cycles.</summary>
    public static Dictionary<string, int> Layers(Flowchart chart)
    {
        var forward = ForwardEdges(chart);
        var layer = chart.Nodes.ToDictionary(n => n.Id, _ => 0, StringComparer.Ordinal);
        // Forward edges form a DAG; relaxing in topological order gives longest paths.
        foreach (var id in TopologicalOrder(chart, forward))
        {
            foreach (var e in forward.Where(e => e.From == id))
            {
                layer[e.To] = Math.Max(layer[e.To], layer[id] + 1);
            }
        }
        return layer;
    }

    /// <summary>The edges that do not close a cycle (depth-first from each node in order of appearance), without self loops.</summary>
    private static List<FlowEdge> ForwardEdges(Flowchart chart)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the stack, 2 done
        var forward = new List<FlowEdge>();
        var outgoing = chart.Edges.ToLookup(e => e.From, StringComparer.Ordinal);
        void Visit(string id)
        {
            state[id] = 1;
            foreach (var e in outgoing[id])
            {
                state.TryGetValue(e.To, out var s);
                if (s == 1)
                {
                    continue; // a back edge (or a self loop): it would make a cycle
                }
                forward.Add(e);
                if (s == 0)
                {
                    Visit(e.To);
                }
            }
            state[id] = 2;
        }
        foreach (var node in chart.Nodes.Where(n => !state.ContainsKey(n.Id)))
        {
            Visit(node.Id);
        }
        return forward;
    }

    private static List<string> TopologicalOrder(Flowchart chart, List<FlowEdge> forward)
    {
        var incoming = chart.Nodes.ToDictionary(n => n.Id, n => forward.Count(e => e.To == n.Id), StringComparer.Ordinal);
        var ready = new Queue<string>(chart.Nodes.Where(n => incoming[n.Id] == 0).Select(n => n.Id));
        var order = new List<string>();
        while (ready.TryDequeue(out var id))
        {
            order.Add(id);
            foreach (var e in forward.Where(e => e.From == id))
            {
                if (--incoming[e.To] == 0)
                {
                    ready.Enqueue(e.To);
                }
            }
        }
        return order;
    }

    /// <summary>
    /// Nodes per layer, ordered: first by appearance, then by the mean position of their neighbours, sweeping down and up.
    /// An edge that spans several layers gets a waypoint in each layer between (ids from <see cref="Waypoint"/>), ordered
    /// like a node, so long edges go round the nodes instead of through them. Back edges take no part: they go round the side.
    /// </summary>
    public static List<List<string>> Order(Flowchart chart, Dictionary<string, int> layers)
    {
        var rows = Enumerable.Range(0, layers.Values.DefaultIfEmpty(0).Max() + 1)
            .Select(l => chart.Nodes.Where(n => layers[n.Id] == l).Select(n => n.Id).ToList())
            .ToList();
        var neighbours = chart.Nodes.ToDictionary(n => n.Id, _ => new List<string>(), StringComparer.Ordinal);
        for (var i = 0; i < chart.Edges.Count; i++)
        {
            var e = chart.Edges[i];
            if (layers[e.To] <= layers[e.From])
            {
                continue;
            }
            var previous = e.From;
            for (var l = layers[e.From] + 1; l < layers[e.To]; l++)
            {
                var waypoint = Waypoint(i, l);
                rows[l].Add(waypoint);
                neighbours[waypoint] = [previous];
                neighbours[previous].Add(waypoint);
                previous = waypoint;
            }
            neighbours[previous].Add(e.To);
            neighbours[e.To].Add(previous);
        }
        for (var sweep = 0; sweep < 4; sweep++)
        {
            var down = sweep % 2 == 0;
            var range = down ? Enumerable.Range(1, rows.Count - 1) : Enumerable.Range(0, rows.Count - 1).Reverse();
            foreach (var l in range)
            {
                var reference = rows[down ? l - 1 : l + 1];
                var position = reference.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => (double)x.i, StringComparer.Ordinal);
                rows[l] = rows[l]
                    .Select((id, i) =>
                    {
                        var near = neighbours[id].Where(position.ContainsKey).Select(n => position[n]).ToList();
                        return (id, key: near.Count == 0 ? i : near.Average(), i);
                    })
                    .OrderBy(x => x.key).ThenBy(x => x.i)
                    .Select(x => x.id).ToList();
            }
        }
        return rows;
    }

    /// <summary>How many waypoints <see cref="Order"/> would add: one per layer an edge passes through without stopping.</summary>
    public static long Waypoints(Flowchart chart, Dictionary<string, int> layers) =>
        chart.Edges.Sum(e => (long)Math.Max(0, layers[e.To] - layers[e.From] - 1));

    /// <summary>The id of edge <paramref name="edge"/>'s waypoint in layer <paramref name="layer"/>; no Mermaid id has a space.</summary>
    public static string Waypoint(int edge, int layer) => $"edge {edge} layer {layer}";

    private const double WaypointWidth = 10;
    private const double LaneGap = 10;

    public static FlowLayout Compute(Flowchart chart)
    {
        var layers = Layers(chart);
        var rows = Order(chart, layers);
        var byId = chart.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var horizontal = chart.Direction is FlowDirection.LeftRight or FlowDirection.RightLeft;
        // Computed top-down: "across" is along a layer, "along" is down the flow. Waypoints are narrow and have no depth.
        double Across(string id) => byId.TryGetValue(id, out var n) ? (horizontal ? NodeHeightOf(n) : NodeWidth(n)) : WaypointWidth;
        double Along(string id) => byId.TryGetValue(id, out var n) ? (horizontal ? NodeWidth(n) : NodeHeightOf(n)) : 0;

        var rowWidths = rows.Select(r => r.Sum(Across) + NodeGap * Math.Max(0, r.Count - 1)).ToList();
        var rowDepths = rows.Select(r => r.Count == 0 ? 0 : r.Max(Along)).ToList();
        var width = rowWidths.DefaultIfEmpty(0).Max();
        var centres = new Dictionary<string, (double A, double B)>(StringComparer.Ordinal);
        var rowTops = new List<double>();
        var along = 0.0;
        for (var l = 0; l < rows.Count; l++)
        {
            var across = (width - rowWidths[l]) / 2;
            foreach (var id in rows[l])
            {
                var w = Across(id);
                centres[id] = (across + w / 2, along + rowDepths[l] / 2);
                across += w + NodeGap;
            }
            rowTops.Add(along);
            along += rowDepths[l] + LayerGap;
        }
        var depth = Math.Max(0, along - LayerGap);

        var lanes = 0;
        var routes = new List<List<(double A, double B)>>();
        for (var i = 0; i < chart.Edges.Count; i++)
        {
            var e = chart.Edges[i];
            var (fa, fb) = centres[e.From];
            var (ta, tb) = centres[e.To];
            double fromHalf = Along(e.From) / 2, toHalf = Along(e.To) / 2;
            if (e.From == e.To)
            {
                // A self loop: out of the far side and back in a little lower.
                var side = fa + Across(e.From) / 2;
                routes.Add([(side, fb - 8), (side + NodeGap / 2, fb - 8), (side + NodeGap / 2, fb + 8), (side, fb + 8)]);
            }
            else if (layers[e.To] < layers[e.From])
            {
                // A back edge: down out of its source, along a lane beyond every node, and into the top of its target.
                var lane = width + NodeGap / 2 + lanes++ * LaneGap;
                var (sa, ea) = (fa + Across(e.From) / 4, ta + Across(e.To) / 4);
                var below = fb + fromHalf + LayerGap / 4;
                var above = tb - toHalf - LayerGap / 4;
                routes.Add([(sa, fb + fromHalf), (sa, below), (lane, below), (lane, above), (ea, above), (ea, tb - toHalf)]);
            }
            else
            {
                // Down through a waypoint in each layer between, with an elbow in each gap where it moves across.
                var points = new List<(double A, double B)> { (fa, fb + fromHalf) };
                for (var l = layers[e.From] + 1; l <= layers[e.To]; l++)
                {
                    var last = l == layers[e.To];
                    var a = last ? ta : centres[Waypoint(i, l)].A;
                    var top = last ? tb - toHalf : rowTops[l];
                    var (lastA, lastB) = points[^1];
                    if (Math.Abs(a - lastA) >= 0.5)
                    {
                        var bend = (lastB + top) / 2;
                        points.Add((lastA, bend));
                        points.Add((a, bend));
                    }
                    points.Add((a, top));
                    if (!last)
                    {
                        points.Add((a, rowTops[l] + rowDepths[l]));
                    }
                }
                routes.Add(Straighten(points));
            }
        }

        var across2 = width + (lanes > 0 ? NodeGap / 2 + lanes * LaneGap : 0) + (chart.Edges.Any(e => e.From == e.To) ? NodeGap / 2 : 0);
        // Turn the top-down frame into the chart's direction, with a margin all round.
        Point Turn(double a, double b) => chart.Direction switch
        {
            FlowDirection.TopDown => new Point(Margin + a, Margin + b),
            FlowDirection.BottomUp => new Point(Margin + a, Margin + depth - b),
            FlowDirection.LeftRight => new Point(Margin + b, Margin + a),
            _ => new Point(Margin + depth - b, Margin + a),
        };
        var placed = chart.Nodes.Select(n =>
        {
            var (a, b) = centres[n.Id];
            var at = Turn(a, b);
            return new PlacedNode(n, layers[n.Id], rows[layers[n.Id]].IndexOf(n.Id), at.X, at.Y, NodeWidth(n), NodeHeightOf(n));
        }).ToList();
        var edges = chart.Edges.Select((e, i) =>
        {
            var points = routes[i].Select(p => Turn(p.A, p.B)).ToList();
            var middle = (points.Count - 1) / 2;
            return new PlacedEdge(e, points, new Point((points[middle].X + points[middle + 1].X) / 2, (points[middle].Y + points[middle + 1].Y) / 2));
        }).ToList();
        var (totalW, totalH) = horizontal ? (depth, across2) : (across2, depth);
        return new FlowLayout(chart.Direction, totalW + 2 * Margin, totalH + 2 * Margin, placed, edges);
    }

    /// <summary>Drops points in the middle of a straight run, so a long straight edge is one segment.</summary>
    private static List<(double A, double B)> Straighten(List<(double A, double B)> points)
    {
        var kept = new List<(double A, double B)> { points[0] };
        for (var i = 1; i < points.Count - 1; i++)
        {
            var (p, q, r) = (kept[^1], points[i], points[i + 1]);
            var straight = (Math.Abs(p.A - q.A) < 0.01 && Math.Abs(q.A - r.A) < 0.01) || (Math.Abs(p.B - q.B) < 0.01 && Math.Abs(q.B - r.B) < 0.01);
            if (!straight)
            {
                kept.Add(q);
            }
        }
        kept.Add(points[^1]);
        return kept;
    }
}

/// <summary>A laid-out flowchart as SVG markup: every label encoded, colours from the stylesheet (classes, no inline styles).</summary>
public static class FlowchartSvg
{
    public static Markup Render(FlowLayout layout, string id)
    {
        var marker = id + "-arrow";
        var svg = new StringBuilder();
        var names = string.Join(", ", layout.Nodes.Select(n => n.Node.Label));
        svg.Append(CultureInfo.InvariantCulture,
            $"""<svg class="flowchart" xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title" width="{SvgText.N(layout.Width)}" height="{SvgText.N(layout.Height)}" viewBox="0 0 {SvgText.N(layout.Width)} {SvgText.N(layout.Height)}">""");
        svg.Append(CultureInfo.InvariantCulture, $"""<title id="{id}-title">Flowchart: {Html.Encode(names)}</title>""");
        svg.Append(CultureInfo.InvariantCulture,
            $"""<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path class="flow-arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>""");
        foreach (var edge in layout.Edges)
        {
            var points = string.Join(" ", edge.Points.Select(p => SvgText.N(p.X) + "," + SvgText.N(p.Y)));
            var style = edge.Edge.Style.ToString().ToLowerInvariant();
            var head = edge.Edge.Style == EdgeStyle.Line ? "" : $""" marker-end="url(#{marker})" """.TrimEnd();
            svg.Append(CultureInfo.InvariantCulture, $"""<polyline class="flow-edge flow-edge-{style}" points="{points}"{head}/>""");
        }
        foreach (var edge in layout.Edges.Where(e => e.Edge.Label is not null))
        {
            var label = edge.Edge.Label!;
            var w = label.Length * 6.5 + 10;
            svg.Append(CultureInfo.InvariantCulture,
                $"""<rect class="flow-edge-label-bg" x="{SvgText.N(edge.LabelAt.X - w / 2)}" y="{SvgText.N(edge.LabelAt.Y - 9)}" width="{SvgText.N(w)}" height="18" rx="3"/>""");
            svg.Append(CultureInfo.InvariantCulture,
                $"""<text class="flow-edge-label" x="{SvgText.N(edge.LabelAt.X)}" y="{SvgText.N(edge.LabelAt.Y + 4)}" text-anchor="middle">{Html.Encode(label)}</text>""");
        }
        foreach (var node in layout.Nodes)
        {
            double x = node.X, y = node.Y, hw = node.Width / 2, hh = node.Height / 2;
            svg.Append("<g class=\"flow-node\">");
            svg.Append(node.Node.Shape switch
            {
                NodeShape.Rectangle => $"""<rect x="{SvgText.N(x - hw)}" y="{SvgText.N(y - hh)}" width="{SvgText.N(node.Width)}" height="{SvgText.N(node.Height)}" rx="2"/>""",
                NodeShape.Rounded => $"""<rect x="{SvgText.N(x - hw)}" y="{SvgText.N(y - hh)}" width="{SvgText.N(node.Width)}" height="{SvgText.N(node.Height)}" rx="10"/>""",
                NodeShape.Stadium => $"""<rect x="{SvgText.N(x - hw)}" y="{SvgText.N(y - hh)}" width="{SvgText.N(node.Width)}" height="{SvgText.N(node.Height)}" rx="{SvgText.N(hh)}"/>""",
                NodeShape.Circle => $"""<circle cx="{SvgText.N(x)}" cy="{SvgText.N(y)}" r="{SvgText.N(Math.Max(hw, hh))}"/>""",
                _ => $"""<polygon points="{SvgText.N(x)},{SvgText.N(y - hh)} {SvgText.N(x + hw)},{SvgText.N(y)} {SvgText.N(x)},{SvgText.N(y + hh)} {SvgText.N(x - hw)},{SvgText.N(y)}"/>""",
            });
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{SvgText.N(x)}" y="{SvgText.N(y + 4)}" text-anchor="middle">{Html.Encode(node.Node.Label)}</text></g>""");
        }
        svg.Append("</svg>");
        return Html.Raw(svg.ToString());
    }

    /// <summary>
    /// Beyond these a drawing would be unreadable anyway, and parsing and layout stay cheap for any artifact. Nodes and
    /// edges alone do not bound the layout: an edge across many layers becomes a waypoint in each (300 nodes and 4,000
    /// long edges took over 12 s), so the waypoints, which every ordering sweep visits, have their own cap.
    /// </summary>
    public const int MaxSourceLength = 50_000;
    public const int MaxNodes = 300;
    public const int MaxEdges = 600;
    public const int MaxWaypoints = 3_000;

    /// <summary>The diagram when the source is a flowchart this reads; otherwise the source, with a note saying why.</summary>
    public static Markup FromSource(string source, string id)
    {
        if (source.Length > MaxSourceLength)
        {
            return ArtifactPages.PlainText(source, $"Shown as source: too large to draw here (the limit is {MaxSourceLength / 1000} KB of source).");
        }
        if (MermaidParser.Parse(source) is not { } chart)
        {
            return ArtifactPages.PlainText(source, "Shown as source: only flowcharts are drawn here.");
        }
        if (chart.Nodes.Count > MaxNodes || chart.Edges.Count > MaxEdges)
        {
            return ArtifactPages.PlainText(source, $"Shown as source: too large to draw here (the limits are {MaxNodes} nodes and {MaxEdges} links).");
        }
        if (FlowchartLayout.Waypoints(chart, FlowchartLayout.Layers(chart)) > MaxWaypoints)
        {
            return ArtifactPages.PlainText(source, "Shown as source: too large to draw here (its links cross too many layers to lay out).");
        }
        return Html.Of($"""<figure class="mermaid-figure">{Render(FlowchartLayout.Compute(chart), id)}<details><summary>Mermaid source</summary><pre>{source}</pre></details></figure>""");
    }
}
