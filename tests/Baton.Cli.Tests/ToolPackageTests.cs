using System.Diagnostics;
using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests;

/// <summary>
/// `dotnet pack` makes a tool package that `dotnet tool install` takes from a local folder and that works as
/// `baton`, with nothing from any other package source. Packs the build these tests run on (--no-build), so it costs
/// seconds, not a Release build.
/// </summary>
public sealed class ToolPackageTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    [Trait("Category", "Packaging")]
    public async Task Packs_installs_from_a_local_folder_and_runs_as_baton()
    {
        using var dir = new TempDir();
        var (root, configuration) = Build();
        var packages = Path.Combine(dir.Path, "packages");
        var tools = Path.Combine(dir.Path, "tools");
        // Only the local folder: the install must not depend on what any registry has.
        var nugetConfig = Path.Combine(dir.Path, "nuget.config");
        await File.WriteAllTextAsync(nugetConfig, "<configuration><packageSources><clear /></packageSources></configuration>");
        const string version = "0.0.1-test";

        await RunAsync(root, "pack", Path.Combine(root, "src", "Baton.Cli", "Baton.Cli.csproj"), "-c", configuration, "--no-build",
            "-o", packages, $"-p:PackageVersion={version}", "-nodeReuse:false");
        Assert.True(File.Exists(Path.Combine(packages, $"Baton.Cli.{version}.nupkg")), string.Join(", ", Directory.GetFiles(packages)));
        // Its own package folder too, so no copy of an earlier test's package can stand in for this one.
        await RunAsync(dir.Path, new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(dir.Path, "nuget-packages") },
            "tool", "install", "Baton.Cli", "--version", version, "--tool-path", tools, "--add-source", packages, "--configfile", nugetConfig);

        var baton = Path.Combine(tools, OperatingSystem.IsWindows() ? "baton.exe" : "baton");
        var help = await RunAsync(dir.Path, baton, "--help");
        Assert.Contains("Baton: a durable orchestrator", help, StringComparison.Ordinal);
        var validate = await RunAsync(dir.Path, baton, "profile", "validate", Path.Combine(root, "profiles", "software_delivery.yaml"));
        Assert.Contains("valid profile 'software_delivery'", validate, StringComparison.Ordinal);
    }

    /// <summary>The repository root, and the configuration these tests were built in (bin/&lt;configuration&gt;/&lt;tfm&gt;).</summary>
    private static (string Root, string Configuration) Build()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = here.Parent!.Name;
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Baton.slnx")))
            {
                return (dir.FullName, configuration);
            }
        }
        throw new InvalidOperationException("not inside the repository");
    }

    private static Task<string> RunAsync(string workingDirectory, string program, params string[] args) =>
        RunAsync(workingDirectory, new Dictionary<string, string>(), program, args);

    /// <summary>Runs `dotnet ARGS` (or a program), returns stdout; fails the test with all output on a non-zero exit.</summary>
    private static async Task<string> RunAsync(string workingDirectory, Dictionary<string, string> environment, string program, params string[] args)
    {
        var isDotnet = !Path.IsPathRooted(program);
        var info = new ProcessStartInfo(isDotnet ? "dotnet" : program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (isDotnet)
        {
            info.ArgumentList.Add(program);
        }
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        try
        {
            using var timeout = new CancellationTokenSource(StepTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}\n{await stdout}\n{await stderr}");
            return await stdout;
        }
        finally
        {
            BatonProcess.Kill(process);
        }
    }
}
