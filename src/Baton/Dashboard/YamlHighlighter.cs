namespace Baton.Dashboard;

/// <summary>What a piece of a YAML line is, for colouring: a mapping key, a string, a comment, punctuation or plain text.</summary>
public enum YamlTokenKind
{
    Text,
    Key,
    String,
    Comment,
    Punctuation,
}

public sealed record YamlToken(YamlTokenKind Kind, string Text);

/// <summary>
/// A light YAML tokenizer for showing profiles: keys, quoted strings, block scalars (<c>|</c>, <c>&gt;-</c>) and comments,
/// line by line. It never rejects input; anything it does not recognise is plain text, so a broken file still shows.
/// The tokens' texts joined give each line back exactly; the page encodes them.
/// </summary>
public static class YamlHighlighter
{
    public static IReadOnlyList<IReadOnlyList<YamlToken>> Tokenize(string source)
    {
        var lines = source.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length > 1 && lines[^1].Length == 0)
        {
            lines = lines[..^1];
        }
        var result = new List<IReadOnlyList<YamlToken>>(lines.Length);
        // Inside a block scalar every line indented deeper than its key (and every blank line) is the string's text.
        int? blockIndent = null;
        foreach (var line in lines)
        {
            var indent = line.Length - line.TrimStart(' ').Length;
            if (blockIndent is { } parent && (line.Trim().Length == 0 || indent > parent))
            {
                result.Add(line.Length == 0 ? [] : [new YamlToken(YamlTokenKind.String, line)]);
                continue;
            }
            blockIndent = null;
            var tokens = new List<YamlToken>();
            var startsBlock = TokenizeLine(line, tokens);
            if (startsBlock)
            {
                blockIndent = indent;
            }
            result.Add(tokens);
        }
        return result;
    }

    /// <summary>Adds the tokens of one line; true when the line opens a block scalar.</summary>
    private static bool TokenizeLine(string line, List<YamlToken> tokens)
    {
        var at = 0;
        at = Take(line, at, c => c == ' ', YamlTokenKind.Text, tokens);
        // Sequence markers ("- ", "- - ").
        while (at < line.Length && line[at] == '-' && (at + 1 == line.Length || line[at + 1] == ' '))
        {
            tokens.Add(new YamlToken(YamlTokenKind.Punctuation, "-"));
            at = Take(line, at + 1, c => c == ' ', YamlTokenKind.Text, tokens);
        }
        if (at < line.Length && line[at] == '#')
        {
            tokens.Add(new YamlToken(YamlTokenKind.Comment, line[at..]));
            return false;
        }
        var keyEnd = KeyEnd(line, at);
        if (keyEnd > at)
        {
            tokens.Add(new YamlToken(YamlTokenKind.Key, line[at..keyEnd]));
            tokens.Add(new YamlToken(YamlTokenKind.Punctuation, ":"));
            at = keyEnd + 1;
        }
        return Value(line, at, tokens);
    }

    /// <summary>Where the colon of a "key:" at <paramref name="at"/> is, or <paramref name="at"/> when there is no key.</summary>
    private static int KeyEnd(string line, int at)
    {
        if (at < line.Length && line[at] is '"' or '\'')
        {
            var close = line.IndexOf(line[at], at + 1);
            return close > at && IsColon(line, close + 1) ? close + 1 : at;
        }
        for (var i = at; i < line.Length; i++)
        {
            var c = line[i];
            if (c == ':' && IsColon(line, i))
            {
                return i == at ? at : i;
            }
            if (c is '[' or '{' or '"' or '\'' || (c == ' ' && i + 1 < line.Length && line[i + 1] == '#'))
            {
                return at;
            }
        }
        return at;
    }

    private static bool IsColon(string line, int i) => i < line.Length && line[i] == ':' && (i + 1 == line.Length || line[i + 1] == ' ');

    /// <summary>The rest of a line after its key: quoted strings, a trailing comment, plain text in between.</summary>
    private static bool Value(string line, int at, List<YamlToken> tokens)
    {
        var plainStart = at;
        var i = at;
        while (i < line.Length)
        {
            var c = line[i];
            if (c == '#' && (i == 0 || line[i - 1] == ' '))
            {
                Flush(i);
                var blockBeforeComment = IsBlockIndicator(line[at..i]);
                tokens.Add(new YamlToken(YamlTokenKind.Comment, line[i..]));
                return blockBeforeComment;
            }
            if (c is '"' or '\'' && (i == at || line[i - 1] is ' ' or '[' or ',' or '{'))
            {
                var close = c == '"' ? ClosingDoubleQuote(line, i) : ClosingSingleQuote(line, i);
                Flush(i);
                tokens.Add(new YamlToken(YamlTokenKind.String, line[i..(close + 1)]));
                i = plainStart = close + 1;
                continue;
            }
            i++;
        }
        Flush(line.Length);
        return IsBlockIndicator(line[at..]);

        void Flush(int end)
        {
            if (end > plainStart)
            {
                tokens.Add(new YamlToken(YamlTokenKind.Text, line[plainStart..end]));
            }
            plainStart = end;
        }
    }

    /// <summary>"|", "&gt;", "|-", "&gt;+2" and the like: the value is the indented lines that follow.</summary>
    private static bool IsBlockIndicator(string value)
    {
        var v = value.Trim();
        return v.Length is > 0 and <= 3 && v[0] is '|' or '>' && v[1..].All(c => c is '-' or '+' || char.IsAsciiDigit(c));
    }

    /// <summary>The index of the closing quote, or the line's last character when the string runs on.</summary>
    private static int ClosingDoubleQuote(string line, int open)
    {
        for (var i = open + 1; i < line.Length; i++)
        {
            if (line[i] == '\\')
            {
                i++;
            }
            else if (line[i] == '"')
            {
                return i;
            }
        }
        return line.Length - 1;
    }

    private static int ClosingSingleQuote(string line, int open)
    {
        for (var i = open + 1; i < line.Length; i++)
        {
            if (line[i] == '\'')
            {
                if (i + 1 < line.Length && line[i + 1] == '\'')
                {
                    i++;
                    continue;
                }
                return i;
            }
        }
        return line.Length - 1;
    }

    private static int Take(string line, int at, Func<char, bool> match, YamlTokenKind kind, List<YamlToken> tokens)
    {
        var end = at;
        while (end < line.Length && match(line[end]))
        {
            end++;
        }
        if (end > at)
        {
            tokens.Add(new YamlToken(kind, line[at..end]));
        }
        return end;
    }
}
