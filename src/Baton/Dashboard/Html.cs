using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;

namespace Baton.Dashboard;

/// <summary>Markup that is already safe to send: only <see cref="Html.Of"/> and <see cref="Html.Raw"/> make one.</summary>
public readonly record struct Markup(string Value)
{
    public override string ToString() => Value;
}

/// <summary>
/// HTML from interpolated strings: the literal parts are markup, every hole is HTML-encoded unless it is already
/// <see cref="Markup"/> (or a sequence of it). So a run's intake, feedback or artifact name can never become markup.
/// </summary>
public static class Html
{
    public static Markup Of(ref HtmlBuilder html) => new(html.ToString());

    /// <summary>Only for text that is markup by construction (sanitized Markdown output, our own constants).</summary>
    public static Markup Raw(string html) => new(html);

    public static string Encode(string? text) => HtmlEncoder.Default.Encode(text ?? "");
}

[InterpolatedStringHandler]
public ref struct HtmlBuilder
{
    private readonly StringBuilder _text;

    public HtmlBuilder(int literalLength, int formattedCount) => _text = new StringBuilder(literalLength + formattedCount * 16);

    public readonly void AppendLiteral(string literal) => _text.Append(literal);

    public readonly void AppendFormatted(Markup markup) => _text.Append(markup.Value);

    public readonly void AppendFormatted(IEnumerable<Markup> markups)
    {
        foreach (var m in markups)
        {
            _text.Append(m.Value);
        }
    }

    public readonly void AppendFormatted(string? text) => _text.Append(Html.Encode(text));

    public readonly void AppendFormatted<T>(T value, string? format = null)
    {
        // A List<Markup> or Markup? picks this overload over the exact ones: still markup, not text.
        switch (value)
        {
            case Markup markup:
                _text.Append(markup.Value);
                return;
            case IEnumerable<Markup> markups:
                AppendFormatted(markups);
                return;
        }
        var text = value is IFormattable f ? f.ToString(format, CultureInfo.InvariantCulture) : value?.ToString();
        _text.Append(Html.Encode(text));
    }

    public override readonly string ToString() => _text.ToString();
}
