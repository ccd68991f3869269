using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Baton.Agents;

/// <summary>A file <see cref="SafeFiles"/> will not read, and why ("is a symbolic link", ...).</summary>
public sealed class UnsafeFileException(string name, string why) : IOException($"{name} {why}")
{
    public string Why { get; } = why;
}

/// <summary>
/// Reads a file an agent or a repository controls (an artifact in the workspace or the execution's artifacts
/// folder, a worker file) without being steered by it. The folder is found from server-known paths only: its
/// parent's real path plus its own name, opened without following a link, so an agent that swaps its artifacts
/// folder for a link is refused instead of followed. Below it every part of the name is opened relative to the
/// previous one, again without following links (no check-then-open race). The file must be a regular file (not
/// /dev/zero, not a FIFO) and is read in chunks up to a limit, never whole. Linux only, like the server.
/// </summary>
public static class SafeFiles
{
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int SIfMt = 0xF000;
    private const int SIfReg = 0x8000;
    private const int ENotDir = 20;
    private const int ELoop = 40;

    private static readonly bool GenericAbi = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

    // O_NOFOLLOW is 0400000 and O_DIRECTORY 0200000 on x86-64; 0100000 and 040000 on the generic (arm64) ABI.
    private static readonly int ONoFollow = GenericAbi ? 0x8000 : 0x20000;
    private static readonly int ODirectory = GenericAbi ? 0x4000 : 0x10000;

    /// <summary>Is there something at <paramref name="path"/> (a link counts; nothing is followed)?</summary>
    public static bool Exists(string path) => File.Exists(path) || new FileInfo(path).LinkTarget is not null;

    /// <summary>
    /// The artifact <paramref name="name"/> (a relative path) under <paramref name="folder"/> (a server-known path);
    /// an <see cref="AgentFailedException"/> that says what is wrong when it may not be read.
    /// </summary>
    public static async Task<string> ReadTextAsync(string folder, string name, long maxBytes, CancellationToken ct)
    {
        try
        {
            using var handle = OpenBeneath(folder, name);
            await using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
            using var content = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, ct)) > 0)
            {
                Append(content, buffer, read, name, maxBytes);
            }
            return Encoding.UTF8.GetString(content.GetBuffer(), 0, (int)content.Length);
        }
        catch (UnsafeFileException ex)
        {
            throw new AgentFailedException(
                $"{name} {ex.Why}{(ex.Why.StartsWith("is larger", StringComparison.Ordinal) ? ", the limit for an artifact" : "")}; "
                + "an artifact must be a regular file the agent wrote in the workspace or in $BATON_ARTIFACTS_DIR");
        }
        catch (FileNotFoundException)
        {
            throw new AgentFailedException($"{name} disappeared while it was being read");
        }
    }

    /// <summary>A small file the server reads itself (a worker file): not through a link, and at most <paramref name="maxBytes"/>.</summary>
    public static string ReadText(string path, long maxBytes)
    {
        var full = Path.GetFullPath(path);
        var name = Path.GetFileName(full);
        using var handle = OpenBeneath(Path.GetDirectoryName(full)!, name);
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        using var content = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            Append(content, buffer, read, name, maxBytes);
        }
        return Encoding.UTF8.GetString(content.GetBuffer(), 0, (int)content.Length);
    }

    public static string Size(long bytes) => bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB"
        : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} bytes";

    private static void Append(MemoryStream content, byte[] buffer, int read, string name, long maxBytes)
    {
        if (content.Length + read > maxBytes)
        {
            throw new UnsafeFileException(name, $"is larger than {Size(maxBytes)}");
        }
        content.Write(buffer, 0, read);
    }

    /// <summary>The regular file <paramref name="name"/> beneath <paramref name="folder"/>, no link followed on the way.</summary>
    private static SafeFileHandle OpenBeneath(string folder, string name)
    {
        RequireLinux();
        var full = Path.GetFullPath(folder);
        var parent = Path.GetDirectoryName(full);
        // The parent is the server's (the execution's folder, the workspaces' folder), so its links are the
        // admin's (a work dir under a linked /tmp); the folder itself may have been swapped by the agent.
        var root = parent is null ? full : Path.Combine(Workspaces.RepositoryLocations.RealPath(parent), Path.GetFileName(full));
        var parts = name.Split('/');
        if (parts.Any(p => p is "" or "." or ".."))
        {
            throw new UnsafeFileException(name, "is not a plain relative path");
        }
        var dir = OpenAt(-100 /* AT_FDCWD */, root, ODirectory | ONoFollow | OCloExec);
        if (dir < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new UnsafeFileException(name, errno is ELoop or ENotDir
                ? "is in a folder that was replaced by a symbolic link" : $"could not be opened (errno {errno})");
        }
        try
        {
            foreach (var part in parts[..^1])
            {
                var next = OpenAt(dir, part, ODirectory | ONoFollow | OCloExec);
                var errno = Marshal.GetLastPInvokeError();
                Close(dir);
                dir = next;
                if (dir < 0)
                {
                    throw new UnsafeFileException(name, errno is ELoop or ENotDir
                        ? "is in a folder that is a symbolic link" : $"could not be opened (errno {errno})");
                }
            }
            // Non-blocking, so a FIFO is refused below instead of hanging the open.
            var fd = OpenAt(dir, parts[^1], ONoFollow | ONonBlock | OCloExec);
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw errno == 2 /* ENOENT */ ? new FileNotFoundException($"Could not find file '{name}'", name)
                    : new UnsafeFileException(name, errno == ELoop ? "is a symbolic link" : $"could not be opened (errno {errno})");
            }
            var handle = new SafeFileHandle(fd, ownsHandle: true);
            if (!IsRegularFile(handle))
            {
                handle.Dispose();
                throw new UnsafeFileException(name, "is not a regular file");
            }
            return handle;
        }
        finally
        {
            if (dir >= 0)
            {
                Close(dir);
            }
        }
    }

    private static bool IsRegularFile(SafeFileHandle handle)
    {
        var statx = new byte[256];
        if (Statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxType, statx) != 0)
        {
            return false;
        }
        // struct statx: stx_mode is the u16 at offset 28, the same on every architecture.
        return (BitConverter.ToUInt16(statx, 28) & SIfMt) == SIfReg;
    }

    /// <summary>The checks above are Linux system calls; elsewhere there would be none, so nothing is read at all.</summary>
    private static void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Baton reads agents' files only on Linux, where it can refuse links safely");
        }
    }

    [DllImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static extern int OpenAt(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

}
