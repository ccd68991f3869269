using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>
/// Text that agents, repositories or intakes wrote reaches a person's terminal: its control sequences must not act
/// there (OSC 52 sets the clipboard, CSI moves the cursor over what was printed). --json stays exact.
/// </summary>
[Collection(SharedServerCollection.Name)]
public sealed class TerminalTextTests(SharedServer shared)
{
    private const string Hostile =
        "before \u001b]52;c;ZWNobyBwd25lZA==\u0007clip \u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\ "
        + "\u001b[31mred\u001b[0m \u009b2Jc1 \u009d0;title\u009c bell\u0007 back\bspace\u007f nul\0 esc\u001bc tab\tafter";

    [Theory]
    [InlineData("plain text\twith a tab", "plain text\twith a tab")]
    [InlineData("a\u001b]52;c;ZXZpbA==\u0007b", "ab")]
    [InlineData("a\u001b]0;title\u001b\\b", "ab")]
    [InlineData("a\u001b[1;31mb\u001b[0m", "ab")]
    [InlineData("a\u009b31mb", "ab")]
    [InlineData("a\u009d52;c;eA==\u009cb", "ab")]
    [InlineData("a\u001bPq#0;2;0;0;0\u001b\\b", "ab")]
    [InlineData("a\u001b7b\u001b", "ab")]
    [InlineData("a\rb\bc\u007fd\u0000e\u0085f", "abcdef")]
    [InlineData("unterminated \u001b]52;c;ZXZpbA==", "unterminated ")]
    [InlineData("ünïcödé ✓ 日本", "ünïcödé ✓ 日本")]
    public void Printed_lines_keep_text_and_drop_control_sequences(string text, string printed)
    {
        var output = new StringWriter();
        var terminal = Terminal.For(output, new StringWriter());

        terminal.Line(new Piece("> ", Tone.Dim), new Piece(text, Tone.Bad));

        Assert.Equal("> " + printed + Environment.NewLine, output.ToString());
    }

    [Fact]
    public async Task Run_show_prints_an_intake_without_its_escape_sequences_and_json_keeps_them()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("software_delivery", Hostile, "terminal-text"));

        var shown = (await shared.BatonAsync("run", "show", run.RunId)).Succeeds();
        var json = (await shared.BatonAsync("run", "show", run.RunId, "--json")).Succeeds();

        Assert.DoesNotContain(shown.Stdout, c => char.IsControl(c) && c is not ('\n' or '\t'));
        Assert.Contains("before clip link red c1  bell backspace nul esc tab\tafter", shown.Stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal(Hostile, doc.RootElement.GetProperty("intake").GetString());
    }

    [Fact]
    public async Task Errors_from_the_server_are_printed_without_escape_sequences()
    {
        var result = await shared.BatonAsync("run", "show", "run_\u001b]52;c;ZXZpbA==\u0007x");

        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain(result.Stderr, c => char.IsControl(c) && c is not ('\n' or '\t' or '\r'));
    }
}
