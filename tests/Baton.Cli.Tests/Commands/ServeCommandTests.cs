using Baton.Cli.Tests.Support;

namespace Baton.Cli.Tests.Commands;

public sealed class ServeCommandTests
{
    [Fact]
    public async Task Keeps_no_key_on_disk_and_signs_in_with_BATON_ADMIN_TOKEN()
    {
        using var dir = new TempDir();
        const string adminToken = "team-admin-token-0123456789abcdef";
        await using var server = await BatonServer.StartAsync("serve", dir.Path, new Dictionary<string, string> { ["BATON_ADMIN_TOKEN"] = adminToken });

        Assert.True(Directory.Exists(server.DataDir));
        Assert.False(File.Exists(Path.Combine(server.DataDir, "admin.token")));
        var withToken = await BatonProcess.RunAsync(dir.Path, new Dictionary<string, string> { ["BATON_TOKEN"] = adminToken }, "run", "list", "--url", server.Url, "--json");
        Assert.True(withToken.ExitCode == 0, withToken.Stderr);
        var withoutToken = await BatonProcess.RunAsync(dir.Path, new Dictionary<string, string> { ["BATON_DATA_DIR"] = server.DataDir }, "run", "list", "--url", server.Url);
        Assert.Equal(ExitCodes.Auth, withoutToken.ExitCode);
        Assert.Contains("no key was sent", withoutToken.Stderr, StringComparison.Ordinal);
    }
}
