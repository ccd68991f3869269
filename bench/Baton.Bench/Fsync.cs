using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Baton.Bench;

/// <summary>
/// The physical floor of a commit: an 8 KiB write plus fdatasync, as SQLite does per WAL commit with
/// synchronous=FULL. Overwriting in place syncs data only; appending (a growing WAL) also makes the file system
/// journal the new size, which costs more. Measured where the data dirs go, so the numbers can be read against it.
/// </summary>
internal static partial class Fsync
{
    public static Distribution Measure(string root, bool append, int count = 200)
    {
        var path = Path.Combine(root, "baton-bench-fsync-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
            var block = new byte[8192];
            Random.Shared.NextBytes(block);
            RandomAccess.Write(handle, block, 0);
            Sync(handle);
            var samples = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                block[i % block.Length]++;
                var start = Stopwatch.GetTimestamp();
                RandomAccess.Write(handle, block, append ? (i + 1L) * block.Length : 0);
                Sync(handle);
                samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            return Distribution.Of(samples);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void Sync(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (FdataSync((int)handle.DangerousGetHandle()) != 0)
        {
            throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(int fd);
}
