namespace Baton.Cli;

/// <summary>A plain, left-aligned text table: readable in any terminal, and still cuttable with awk.</summary>
public static class Table
{
    private const string Gap = "  ";

    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.Prepend(headers).ToList();
        var widths = headers.Select((_, column) => all.Max(row => row[column].Length)).ToArray();
        foreach (var row in all)
        {
            // The last column is not padded, so lines carry no trailing spaces.
            output.WriteLine(string.Join(Gap, row.Select((cell, column) => column == row.Count - 1 ? cell : cell.PadRight(widths[column]))));
        }
    }
}
