using System.Text.Json;
using Baton.Cli.Tests.Support;
using Baton.Client;

namespace Baton.Cli.Tests.Commands;

/// <summary>`baton audit` against a real server: a refused write shows up with its key, action, status and address.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class AuditCommandTests(SharedServer shared)
{
    [Fact]
    public async Task A_refused_approve_is_in_the_audit_log_with_who_what_and_where()
    {
        var run = await shared.Admin.CreateRunAsync(new CreateRunRequest("planning_rail", "audit me"));
        var viewerKey = await shared.Admin.CreateKeyAsync(new CreateKeyRequest("cli-audit-viewer", "viewer"));
        var viewer = new Dictionary<string, string>(shared.Env) { ["BATON_TOKEN"] = viewerKey.Token };
        (await shared.BatonAsync(viewer, "run", "approve", run.RunId)).FailsWithOneLine(ExitCodes.Auth);

        var page = JsonSerializer.Deserialize<AuditPage>((await shared.BatonAsync("audit", "--run", run.RunId, "--json")).Succeeds().Stdout, BatonJson.Options)!;
        var refused = Assert.Single(page.Entries);
        Assert.Equal((viewerKey.KeyId, "cli-audit-viewer", "POST", "/api/runs/{id}/approve", 403, "127.0.0.1"),
            (refused.KeyId, refused.Actor, refused.Method, refused.Route, refused.Status, refused.Address));

        var table = (await shared.BatonAsync("audit", "--key", viewerKey.KeyId)).Succeeds().Stdout;
        Assert.Matches($"cli-audit-viewer +{viewerKey.KeyId} +POST /api/runs/\\{{id\\}}/approve +{run.RunId} +403 +127\\.0\\.0\\.1", table);
        (await shared.BatonAsync(viewer, "audit")).FailsWithOneLine(ExitCodes.Auth);
        (await shared.BatonAsync("audit", "--limit", "0")).FailsWithOneLine(ExitCodes.Usage);
    }
}
