using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;

namespace Baton.Dashboard.Components;

/// <summary>An SVG &lt;text&gt; element: Razor reserves the &lt;text&gt; tag for itself, so charts write their labels with this.</summary>
public sealed class SvgText : ComponentBase
{
    [Parameter, EditorRequired] public double X { get; set; }

    [Parameter, EditorRequired] public double Y { get; set; }

    [Parameter] public string? Anchor { get; set; }

    [Parameter] public string? Class { get; set; }

    [Parameter, EditorRequired] public string Text { get; set; } = "";

    /// <summary>SVG numbers are always written with a dot, whatever the server's culture.</summary>
    public static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        builder.OpenElement(0, "text");
        builder.AddAttribute(1, "x", N(X));
        builder.AddAttribute(2, "y", N(Y));
        builder.AddAttribute(3, "text-anchor", Anchor);
        builder.AddAttribute(4, "class", Class);
        builder.AddContent(5, Text);
        builder.CloseElement();
    }
}
