using System.Diagnostics;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

public sealed class CompletionCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("bash", "complete -o default -F _baton_complete baton")]
    [InlineData("zsh", "compdef _baton baton")]
    [InlineData("fish", "complete -c baton -f -a '(__baton_complete)'")]
    public async Task Prints_a_script_for_each_shell(string shell, string registers)
    {
        var result = (await BatonProcess.RunAsync(_dir.Path, null, "completion", shell)).Succeeds();

        Assert.Contains(registers, result.Stdout, StringComparison.Ordinal);
        Assert.Contains("[suggest:", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_shell_is_a_usage_error()
    {
        var line = (await BatonProcess.RunAsync(_dir.Path, null, "completion", "powershell")).FailsWithOneLine(ExitCodes.Usage);

        Assert.Contains("powershell", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bash_completes_commands_and_options_by_asking_baton()
    {
        if (OperatingSystem.IsWindows() || !File.Exists("/bin/bash"))
        {
            return;
        }
        // `baton` on the PATH, as an installed tool would be.
        var bin = Directory.CreateDirectory(Path.Combine(_dir.Path, "bin")).FullName;
        var wrapper = Path.Combine(bin, "baton");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet '{BatonProcess.BatonDll}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Equal(["approve"], await CompleteAsync(bin, "baton run ap"));
        Assert.Equal(["--feedback"], await CompleteAsync(bin, "baton run reject run_1 --fe"));
        Assert.Contains("watch", await CompleteAsync(bin, "baton run "));
    }

    private async Task<List<string>> CompleteAsync(string bin, string line)
    {
        var words = line.Split(' ');
        var script = $$"""
            source <(baton completion bash)
            COMP_LINE='{{line}}'; COMP_POINT={{line.Length}}; COMP_WORDS=({{string.Join(' ', words.Select(w => $"'{w}'"))}}); COMP_CWORD={{words.Length - 1}}
            _baton_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        var info = new ProcessStartInfo("/bin/bash", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir.Path };
        info.Environment["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
