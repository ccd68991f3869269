namespace Baton.Cli.Tests.Support;

/// <summary>A fresh folder per test (or fixture), removed afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("baton-cli-tests-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process we killed may still be letting go of a file; the OS cleans /tmp eventually.
        }
    }
}
