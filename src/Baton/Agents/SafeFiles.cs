using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Baton.Agents;

/// <summary>
/// Reads a file an agent or a repository controls (an artifact in the workspace or the execution's artifacts
/// folder) without being steered by it: a symbolic link is never followed, the file actually opened must lie inside
/// the folder it is read from, it must be a regular file (not /dev/zero, not a FIFO), and it is read in chunks up
/// to a limit, never whole.
/// </summary>
public static class SafeFiles
{
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int SIfMt = 0xF000;
    private const int SIfReg = 0x8000;

    // O_NOFOLLOW is 0400000 on x86-64 and 0100000 on the generic (arm64) ABI.
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    /// <summary>Is there something at <paramref name="path"/> (a link counts; nothing is followed)?</summary>
    public static bool Exists(string path) => File.Exists(path) || new FileInfo(path).LinkTarget is not null;

    /// <summary>The file's text; an <see cref="AgentFailedException"/> that says what is wrong when it may not be read.</summary>
    public static async Task<string> ReadTextAsync(string path, string name, string folder, long maxBytes, CancellationToken ct)
    {
        if (new FileInfo(path).LinkTarget is not null)
        {
            throw Refused(name, "is a symbolic link");
        }
        using var handle = OperatingSystem.IsWindows() ? File.OpenHandle(path) : OpenNoFollow(path, name);
        if (!OperatingSystem.IsWindows())
        {
            // The file opened, not the path asked for: a link in a parent folder, or a swap after the check above, shows here.
            var opened = new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget;
            if (opened is null || !BatonOptions.IsInside(opened, RealPath(folder)))
            {
                throw Refused(name, "resolves outside the folder it was read from");
            }
            if (!IsRegularFile(handle))
            {
                throw Refused(name, "is not a regular file");
            }
        }
        await using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        using var content = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            if (content.Length + read > maxBytes)
            {
                throw Refused(name, $"is larger than {Size(maxBytes)}, the limit for an artifact");
            }
            content.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(content.GetBuffer(), 0, (int)content.Length);
    }

    public static string Size(long bytes) => bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB"
        : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} bytes";

    private static AgentFailedException Refused(string name, string why) =>
        new($"{name} {why}; an artifact must be a regular file the agent wrote in the workspace or in $BATON_ARTIFACTS_DIR");

    private static SafeFileHandle OpenNoFollow(string path, string name)
    {
        // Non-blocking, so a FIFO is refused below instead of hanging the open.
        var fd = Open(path, ONoFollow | ONonBlock | OCloExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == 40 /* ELOOP: the last part is a link */ ? Refused(name, "is a symbolic link") : Refused(name, $"could not be opened (errno {errno})");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
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

    /// <summary>The folder with every link resolved (a work dir under a linked /tmp still matches the opened file's path).</summary>
    public static string RealPath(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return Path.GetFullPath(folder);
        }
        var resolved = RealPathNative(folder, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            return Path.GetFullPath(folder);
        }
        try
        {
            return Marshal.PtrToStringUTF8(resolved) ?? Path.GetFullPath(folder);
        }
        finally
        {
            Free(resolved);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr RealPathNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);
}
