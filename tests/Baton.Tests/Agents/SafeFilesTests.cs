using Baton.Agents;

namespace Baton.Tests.Agents;

/// <summary>Reading an agent's file through links it made: real folders and links.</summary>
public sealed class SafeFilesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("baton-safefiles-").FullName;

    [Fact]
    public async Task A_linked_subfolder_or_a_linked_folder_is_not_followed()
    {
        var secret = Directory.CreateDirectory(Path.Combine(_root, "secret")).FullName;
        File.WriteAllText(Path.Combine(secret, "notes.md"), "SECRET");
        var artifacts = Directory.CreateDirectory(Path.Combine(_root, "execution", "artifacts")).FullName;
        Directory.CreateDirectory(Path.Combine(artifacts, "real"));
        File.WriteAllText(Path.Combine(artifacts, "real", "notes.md"), "mine");
        Assert.Equal("mine", await SafeFiles.ReadTextAsync(artifacts, "real/notes.md", 1024, CancellationToken.None));

        Directory.CreateSymbolicLink(Path.Combine(artifacts, "sub"), secret);
        var ex = await Assert.ThrowsAsync<AgentFailedException>(() => SafeFiles.ReadTextAsync(artifacts, "sub/notes.md", 1024, CancellationToken.None));
        Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<AgentFailedException>(() => SafeFiles.ReadTextAsync(artifacts, "../../secret/notes.md", 1024, CancellationToken.None));

        Directory.Delete(artifacts, recursive: true);
        Directory.CreateSymbolicLink(artifacts, secret);
        ex = await Assert.ThrowsAsync<AgentFailedException>(() => SafeFiles.ReadTextAsync(artifacts, "notes.md", 1024, CancellationToken.None));
        Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
