using System.Text;

namespace Baton.Cli;

/// <summary>
/// Text that agents, repositories and intakes wrote, made safe for a person's terminal. Their escape sequences would
/// act there: OSC 52 sets the clipboard, OSC 8 hides a link's target, CSI moves the cursor over lines already
/// printed, a carriage return or backspace overwrites what a person is reading. They are dropped with every other
/// control character, so what a person sees is exactly the text. Line feeds and tabs stay. --json output does not
/// pass through here: it stays the server's data, exactly.
/// </summary>
public static class TerminalText
{
    private const char Esc = '\u001b';
    private const char Bell = '\u0007';
    private const char C1Csi = '\u009b';
    private const char C1StringTerminator = '\u009c';

    public static string Clean(string text)
    {
        if (!text.Any(IsControl))
        {
            return text;
        }
        var clean = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == Esc)
            {
                i = AfterEscape(text, i + 1);
            }
            else if (c == C1Csi)
            {
                i = AfterCsi(text, i + 1);
            }
            else if (c is '\u0090' or '\u0098' or '\u009d' or '\u009e' or '\u009f')
            {
                // C1 DCS, SOS, OSC, PM and APC: strings that run to a terminator, as after ESC P, X, ], ^ and _.
                i = AfterString(text, i + 1);
            }
            else
            {
                if (!IsControl(c))
                {
                    clean.Append(c);
                }
                i++;
            }
        }
        return clean.ToString();
    }

    /// <summary>C0 controls but line feed and tab, DEL, and the C1 controls.</summary>
    private static bool IsControl(char c) => (c < ' ' && c is not ('\n' or '\t')) || c is >= '\u007f' and <= '\u009f';

    /// <summary>Where the text goes on after an escape sequence whose ESC was just before <paramref name="i"/>.</summary>
    private static int AfterEscape(string text, int i)
    {
        if (i >= text.Length)
        {
            return i;
        }
        switch (text[i])
        {
            case '[':
                return AfterCsi(text, i + 1);
            case ']' or 'P' or 'X' or '^' or '_':
                return AfterString(text, i + 1);
        }
        // nF sequences (ESC ( B chooses a character set): intermediate bytes, then one final byte.
        while (i < text.Length && text[i] is >= ' ' and <= '/')
        {
            i++;
        }
        return Math.Min(i + 1, text.Length);
    }

    /// <summary>A control sequence: parameter and intermediate bytes, then one final byte.</summary>
    private static int AfterCsi(string text, int i)
    {
        while (i < text.Length && text[i] is >= ' ' and <= '?')
        {
            i++;
        }
        return i < text.Length && text[i] is >= '@' and <= '~' ? i + 1 : i;
    }

    /// <summary>An OSC (or DCS, SOS, PM, APC) string: up to BEL, ESC \ or ST; an unterminated one runs to the end, as in a terminal.</summary>
    private static int AfterString(string text, int i)
    {
        for (; i < text.Length; i++)
        {
            switch (text[i])
            {
                case Bell or C1StringTerminator:
                    return i + 1;
                case Esc:
                    return i + 1 < text.Length && text[i + 1] == '\\' ? i + 2 : i;
            }
        }
        return i;
    }
}
