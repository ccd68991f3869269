namespace Baton.Cli.Tests.Support;

/// <summary>One `baton up` in its own temp data dir, shared by the tests of a class that only read from it.</summary>
public sealed class UpServerFixture : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private BatonServer? _server;

    public BatonServer Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await BatonServer.StartAsync("up", _dir.Path);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        _dir.Dispose();
    }
}
