using System.CommandLine;
using Baton.Cli.Commands;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

public sealed class HelpTests
{
    [Fact]
    public async Task Baton_help_exits_0_and_lists_up()
    {
        using var dir = new TempDir();

        var result = await BatonProcess.RunAsync(dir.Path, null, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("  up ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Examples:", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("", result.Stderr);
    }

    public static TheoryData<string> AllCommands()
    {
        var data = new TheoryData<string>();
        Walk(new BatonRootCommand(), "");
        return data;

        void Walk(Command command, string path)
        {
            data.Add(path);
            foreach (var sub in command.Subcommands)
            {
                Walk(sub, (path + " " + sub.Name).Trim());
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public async Task Every_command_has_a_one_line_description_and_an_example(string path)
    {
        var args = path.Split(' ', StringSplitOptions.RemoveEmptyEntries).Append("--help").ToArray();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await new BatonRootCommand().InvokeAsync(args, output, error);

        Assert.Equal(0, exitCode);
        var help = output.ToString();
        var description = help.Split('\n')[1].Trim();
        Assert.False(string.IsNullOrWhiteSpace(description), help);
        Assert.EndsWith(".", description, StringComparison.Ordinal);
        var examples = help[(help.IndexOf("Examples:\n", StringComparison.Ordinal) + "Examples:\n".Length)..]
            .Split('\n').TakeWhile(line => line.StartsWith("  ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(examples);
        Assert.All(examples, example => Assert.Contains("baton " + path, example, StringComparison.Ordinal));
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public async Task A_command_group_on_its_own_shows_its_help()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await new BatonRootCommand().InvokeAsync(["run"], output, error);

        Assert.Equal(0, exitCode);
        Assert.Contains("list", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("baton run list", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_is_a_one_line_usage_error()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await new BatonRootCommand().InvokeAsync(["run", "lst"], output, error);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("error: Unrecognized command or argument 'lst'. (see `baton run --help`)", error.ToString().TrimEnd());
        Assert.Equal("", output.ToString());
    }
}
