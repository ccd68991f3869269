using System.Globalization;

namespace Baton.Dashboard;

/// <summary>
/// A list page's limit and offset as understood from the query string, with a note for every value that was not
/// usable (the default is used instead): a list page never fails over its paging.
/// </summary>
public sealed record Paging(int Limit, int Offset, IReadOnlyList<string> Notes)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
    public const int MaxOffset = 1_000_000;

    /// <summary>limit 1..200 and offset 0..1,000,000; anything else is noted and the default used.</summary>
    public static Paging Parse(string? limit, string? offset)
    {
        var notes = new List<string>();
        var take = DefaultLimit;
        if (QueryText.Blank(limit) is { } l)
        {
            if (int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxLimit)
            {
                take = n;
            }
            else
            {
                notes.Add($"The page size must be a whole number from 1 to {MaxLimit} (it was '{QueryText.Shorten(l)}'); showing {DefaultLimit} a page.");
            }
        }
        var skip = 0;
        if (QueryText.Blank(offset) is { } o)
        {
            if (int.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= MaxOffset)
            {
                skip = n;
            }
            else
            {
                notes.Add($"The offset must be a whole number from 0 to {MaxOffset} (it was '{QueryText.Shorten(o)}'); showing the first page.");
            }
        }
        return new Paging(take, skip, notes);
    }
}

/// <summary>How the dashboard reads a text value from a query string or a form.</summary>
public static class QueryText
{
    /// <summary>Null for a missing, empty or all-blank value: the field was left empty.</summary>
    public static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    /// <summary>A value quoted back in a message, cut short so a huge value does not make a huge page.</summary>
    public static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
