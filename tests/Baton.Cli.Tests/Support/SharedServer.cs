using Baton.Client;

namespace Baton.Cli.Tests.Support;

/// <summary>
/// One `baton up` for the test classes of the "shared server" collection: they create their own runs and keys and
/// look only at those, so they can share it, and the suite pays for one server start instead of one per class.
/// It also has a profile whose check always fails, for runs that must end failed.
/// </summary>
public sealed class SharedServer : IAsyncLifetime
{
    public const string FailingProfile = "always_fails";
    public const string FormProfile = "gate_form";
    public const string GroupProfile = "group_gate";

    private readonly TempDir _dir = new();
    private BatonServer? _server;

    public BatonServer Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>The folder commands run in.</summary>
    public string Folder => _dir.Path;

    /// <summary>A shell on this machine pointed at the server, with no token: the local admin key is used.</summary>
    public Dictionary<string, string> Env => new() { ["BATON_URL"] = Server.Url, ["BATON_DATA_DIR"] = Server.DataDir };

    /// <summary>The admin's client, for setting the scene faster than through child processes.</summary>
    public BatonClient Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var profiles = Directory.CreateDirectory(Path.Combine(_dir.Path, "data", "profiles")).FullName;
        await File.WriteAllTextAsync(Path.Combine(profiles, FailingProfile + ".yaml"), """
            name: always_fails
            description: A phase whose check can never pass, so its runs fail.
            phases:
              - name: draft
                worker: template
                produces: [draft.md]
                checks:
                  - artifact: draft.md
                    contains: text no template writes
            """);
        await File.WriteAllTextAsync(Path.Combine(profiles, FormProfile + ".yaml"), """
            name: gate_form
            description: A gate with a form whose values the next phase writes.
            phases:
              - name: review
                produces: [review.md]
                gate:
                  inputs:
                    ticket: {type: string, required: true}
                    hours: {type: number}
              - name: ship
                produces: [ship.md]
                templates:
                  ship.md: "ticket={{gate.review.ticket}} hours={{gate.review.hours}}"
            """);
        await File.WriteAllTextAsync(Path.Combine(profiles, GroupProfile + ".yaml"), """
            name: group_gate
            description: Two approvals, one of them from security.
            phases:
              - name: change
                produces: [change.md]
                gate:
                  approvals: 2
                  require_groups: {security: 1}
              - name: ship
                produces: [ship.md]
            """);
        // Test classes make their repositories in their own temp folders, outside this server's folder (the default root of `baton up`).
        _server = await BatonServer.StartAsync("up", _dir.Path, new Dictionary<string, string> { ["BATON_REPO_ROOTS"] = Path.GetTempPath() });
        Admin = BatonClient.Create(new Uri(Server.Url + "/"), (await File.ReadAllTextAsync(Path.Combine(Server.DataDir, "admin.token"))).Trim());
    }

    public Task<BatonResult> BatonAsync(params string[] args) => BatonProcess.RunAsync(Folder, Env, args);

    public Task<BatonResult> BatonAsync(IReadOnlyDictionary<string, string> env, params string[] args) => BatonProcess.RunAsync(Folder, env, args);

    public async Task DisposeAsync()
    {
        Admin?.Http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        _dir.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SharedServerCollection : ICollectionFixture<SharedServer>
{
    public const string Name = "shared server";
}
