namespace Klais.Edge.Api;

/// <summary>
/// The edge's memory as the kernel and the GC see it, for <c>/stats</c> and <c>/metrics</c>: resident set, managed
/// heap in use, and what the GC has committed. Read on request only (a few microseconds and a small allocation).
/// </summary>
internal static class ProcessMemory
{
    private static readonly long PageBytes = Environment.SystemPageSize;

    /// <summary>Resident set in bytes (<c>/proc/self/statm</c>, second field, in pages); 0 where there is no procfs.</summary>
    public static long ResidentBytes()
    {
        Span<byte> text = stackalloc byte[128];
        int length;
        try
        {
            using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle("/proc/self/statm");
            length = RandomAccess.Read(file, text, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        // "size resident shared text lib data dt": skip the first field, parse the second.
        ReadOnlySpan<byte> rest = text[..length];
        int space = rest.IndexOf((byte)' ');
        if (space < 0)
        {
            return 0;
        }

        long pages = 0;
        foreach (byte b in rest[(space + 1)..])
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                break;
            }

            pages = (pages * 10) + (b - '0');
        }

        return pages * PageBytes;
    }

    /// <summary>Bytes of managed objects now, garbage not yet collected included.</summary>
    public static long GcHeapBytes() => GC.GetTotalMemory(forceFullCollection: false);

    /// <summary>Bytes the GC had committed from the OS at its last collection (in use, free lists and reserve for allocation).</summary>
    public static long GcCommittedBytes() => GC.GetGCMemoryInfo().TotalCommittedBytes;
}
