using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton gc` against a real server: what it freed, and a bad age refused.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class GcCommandTests(SharedServer shared)
{
    [Fact]
    public async Task Gc_prints_what_it_freed_and_refuses_a_bad_age()
    {
        // The shared server's runs are minutes old: a cutoff of a year keeps every one of them.
        var freed = JsonSerializer.Deserialize<GcResult>((await shared.BatonAsync("gc", "--older-than", "365d", "--json")).Succeeds().Stdout, BatonJson.Options)!;
        Assert.Equal(new GcResult(0, 0, 0, 0, 0), freed);
        Assert.Equal("Freed 0 bytes: 0 run(s), 0 events and log lines, 0 artifacts, 0 blobs.", (await shared.BatonAsync("gc", "--older-than", "365d")).Succeeds().Stdout.Trim());
        Assert.Contains("older_than", (await shared.BatonAsync("gc", "--older-than", "whenever")).FailsWithOneLine(ExitCodes.Usage), StringComparison.Ordinal);
        (await shared.BatonAsync("gc")).FailsWithOneLine(ExitCodes.Usage);
    }
}
