using System.Diagnostics;

namespace Baton.Tests.Support;

/// <summary>The tests' own git: runs it in a folder and answers its output, or throws with what it said on stderr.</summary>
public static class TestGit
{
    public static string Run(string workingDirectory, params IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"git {string.Join(' ', start.ArgumentList)}: {error}");
    }
}
