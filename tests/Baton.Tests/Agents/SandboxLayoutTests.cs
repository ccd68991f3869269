using Baton.Agents;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Tests.Agents;

/// <summary>What the sandbox binds for a program, read from the bwrap command line it builds (real files, no bwrap run).</summary>
public sealed class SandboxLayoutTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("baton-layout-").FullName;

    private BatonOptions Options(string? bwrap = null, IReadOnlyList<string>? readOnly = null) => new()
    {
        DataDir = Path.Combine(_root, "data"),
        Database = new(Path.Combine(_root, "data", "baton.db"), null),
        WorkDir = Path.Combine(_root, "work"),
        BwrapPath = bwrap ?? "/usr/bin/bwrap",
        SandboxReadOnlyPaths = readOnly ?? [],
    };

    private async Task<List<string>> BindsAsync(Sandbox sandbox, string program)
    {
        var work = Directory.CreateDirectory(Path.Combine(_root, "work", "ws")).FullName;
        var execution = Directory.CreateDirectory(Path.Combine(_root, "work", "executions", "e1")).FullName;
        var spec = await sandbox.WrapAsync(new ProcessSpec(program, [], work, ProcessRunner.BaseEnvironment()), new SandboxLayout(work, execution, null, true));
        var args = spec.Arguments.ToList();
        return args.Select((a, i) => (a, i)).Where(x => x.a is "--ro-bind" or "--ro-bind-try" or "--bind").Select(x => args[x.i + 1]).ToList();
    }

    [Fact]
    public async Task The_etc_binds_leave_out_service_environments_and_private_keys()
    {
        var binds = await BindsAsync(new Sandbox(Options(), NullLogger<Sandbox>.Instance, TimeProvider.System), "true");
        foreach (var secret in new[] { "/etc/default", "/etc/environment", "/etc/ssl/private", "/etc/pki/tls/private" })
        {
            Assert.DoesNotContain(binds, b => BatonOptions.IsInside(secret, b));
        }
        Assert.Contains("/etc/ssl/certs", binds);
        Assert.Contains("/etc/passwd", binds);
    }

    [Fact]
    public async Task A_script_is_bound_alone_never_its_folder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, "agent")).FullName;
        var script = Path.Combine(folder, "agent.sh");
        File.WriteAllText(script, "#!/bin/sh\n");
        File.WriteAllText(Path.Combine(folder, "id_ed25519"), "secret");
        var binds = await BindsAsync(new Sandbox(Options(), NullLogger<Sandbox>.Instance, TimeProvider.System), script);
        Assert.Contains(script, binds);
        Assert.DoesNotContain(folder, binds);
    }

    [Fact]
    public async Task Nothing_in_or_around_the_server_home_is_bound_even_through_a_link()
    {
        var home = Environment.GetEnvironmentVariable("HOME")!;
        var link = Path.Combine(_root, "home-link");
        File.CreateSymbolicLink(link, home);
        var sandbox = new Sandbox(Options(readOnly: [link, "/usr/share"]), NullLogger<Sandbox>.Instance, TimeProvider.System);
        var binds = await BindsAsync(sandbox, "true");
        Assert.DoesNotContain(link, binds);
        Assert.DoesNotContain(binds, b => BatonOptions.IsInside(home, Baton.Workspaces.RepositoryLocations.RealPath(b)) || BatonOptions.IsInside(Baton.Workspaces.RepositoryLocations.RealPath(b), home));
        Assert.Contains("/usr/share", binds);
    }

    [Fact]
    public async Task A_failed_probe_is_tried_again_after_a_minute_and_a_success_is_kept()
    {
        var bwrap = Path.Combine(_root, "bin", "bwrap");
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var sandbox = new Sandbox(Options(bwrap), NullLogger<Sandbox>.Instance, clock);
        Assert.Equal(Sandbox.Unavailable, (await sandbox.StatusAsync()).Mode);

        Directory.CreateDirectory(Path.GetDirectoryName(bwrap)!);
        File.CreateSymbolicLink(bwrap, "/usr/bin/bwrap");
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(Sandbox.Unavailable, (await sandbox.StatusAsync()).Mode);
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(Sandbox.Bubblewrap, (await sandbox.StatusAsync()).Mode);

        File.Delete(bwrap);
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(Sandbox.Bubblewrap, (await sandbox.StatusAsync()).Mode);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
