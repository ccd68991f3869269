using System.Security.Cryptography;

namespace Baton.Engine;

/// <summary>
/// This node's id, the same across restarts: the owner of its job leases and the node recorded on its executions, so
/// that after a crash it frees only its own leases and stops only its own orphaned agents while other nodes sharing the
/// database (PostgreSQL) keep theirs. BATON_NODE_ID, or else an id generated at the first start and kept in
/// <c>&lt;data dir&gt;/node-id</c>.
/// </summary>
public sealed class NodeIdentity(string id)
{
    public const string FileName = "node-id";

    public string Id { get; } = id;

    /// <summary>
    /// Whether an execution's agent ran on this node, so that its pid names a process here. One started before node
    /// ids (null) was started by the one process that owned the SQLite file.
    /// </summary>
    public bool Ran(string? executionNodeId) => executionNodeId is null || executionNodeId == Id;

    /// <summary>Letters, digits, '.', '_' and '-': safe in a log line, a file and a URL. No ':', which older ids had.</summary>
    public static bool IsValid(string id) =>
        id.Length is >= 1 and <= 64 && id.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-');

    public static NodeIdentity Of(BatonOptions options)
    {
        if (options.NodeId is { } configured)
        {
            return new NodeIdentity(configured);
        }
        var path = Path.Combine(options.DataDir, FileName);
        if (File.Exists(path))
        {
            var kept = File.ReadAllText(path).Trim();
            return IsValid(kept)
                ? new NodeIdentity(kept)
                : throw new InvalidOperationException(
                    $"{path} must hold this node's id (1 to 64 letters, digits, '.', '_' or '-'), not '{kept}'; fix it, or delete it for a new id");
        }
        StartupInitializer.CreateDataDir(options);
        var generated = "node_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(path, file);
            using var writer = new StreamWriter(stream);
            writer.Write(generated + "\n");
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first (two starts on one data dir): its id is the one kept.
            return Of(options);
        }
        return new NodeIdentity(generated);
    }
}
