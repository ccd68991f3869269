namespace Baton.Cli;

/// <summary>A plain, left-aligned text table: readable in any terminal, and still cuttable with awk.</summary>
public static class Table
{
    private const string Gap = "  ";

    /// <summary>Cells of a column named STATUS are coloured by their value when the terminal has colour.</summary>
    public static void Write(Terminal terminal, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        foreach (var line in Lines(headers, rows))
        {
            terminal.Line([.. line]);
        }
    }

    private static IEnumerable<List<Piece>> Lines(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        // Cleaned before measuring, so that columns line up as printed.
        var all = rows.Prepend(headers).Select(row => (IReadOnlyList<string>)row.Select(TerminalText.Clean).ToList()).ToList();
        var widths = headers.Select((_, column) => all.Max(row => row[column].Length)).ToArray();
        var status = headers.ToList().IndexOf("STATUS");
        for (var r = 0; r < all.Count; r++)
        {
            var row = all[r];
            var line = new List<Piece>();
            for (var column = 0; column < row.Count; column++)
            {
                var cell = column == row.Count - 1 ? row[column] : row[column].PadRight(widths[column]) + Gap;
                var tone = r == 0 ? Tone.Bold : column == status ? Terminal.ToneOf(row[column]) : Tone.Plain;
                line.Add(new Piece(cell, tone));
            }
            // No trailing spaces, also when the last columns of a row are empty.
            while (line.Count > 0 && line[^1].Text.TrimEnd().Length == 0)
            {
                line.RemoveAt(line.Count - 1);
            }
            if (line.Count > 0)
            {
                line[^1] = line[^1] with { Text = line[^1].Text.TrimEnd() };
            }
            yield return line;
        }
    }
}
