using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klais.Edge.Dedupe;
using Klais.Net;
using Klais.Testing;

namespace Klais.Edge.Tests.Dedupe;

/// <summary>The dedupe table in transparent huge pages: checked in the kernel's own account (/proc/self/smaps).</summary>
public sealed class HugePagesTests
{
    private static readonly string Mode = ThpMode();

    [Fact]
    public unsafe void An_advised_array_is_zeroed_and_its_touched_pages_are_huge_ones()
    {
        long[] array = HugePages.AllocateArray<long>(6 * HugePages.Size / sizeof(long), out bool advised);

        Assert.True(advised);
        Assert.All(array, v => Assert.Equal(0, v));
        for (int i = 0; i < array.Length; i += 4096 / sizeof(long))
        {
            array[i] = i;   // first touch of every page
        }

        ulong start = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        long hugeKb = AnonHugePagesKb(start, start + (ulong)array.Length * sizeof(long));
        if (Mode == "never")
        {
            Assert.Equal(0, hugeKb);   // the advice is taken, the kernel gives small pages: the table still works
        }
        else
        {
            // 6 MiB hold at least 5 whole 2 MiB pages; allow one the kernel could not find at once.
            Assert.InRange(hugeKb, 4 * 2048, 6 * 2048);
        }

        GC.KeepAlive(array);
    }

    [Fact]
    public void A_table_smaller_than_a_huge_page_is_not_advised_and_a_large_one_is()
    {
        var time = new ManualTimeProvider();
        Assert.False(new DedupeTable(new DedupeOptions { MaxDeviceCount = 1024 }, time).InHugePages);   // 32 KiB
        Assert.True(new DedupeTable(new DedupeOptions { MaxDeviceCount = 1 << 18 }, time).InHugePages); // 8 MiB
    }

    /// <summary>The bracketed word of /sys/kernel/mm/transparent_hugepage/enabled: always, madvise or never.</summary>
    private static string ThpMode()
    {
        string text = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
        int open = text.IndexOf('[');
        return text[(open + 1)..text.IndexOf(']', open)];
    }

    /// <summary>AnonHugePages (kB) of this process's mappings that overlap [<paramref name="start"/>, <paramref name="end"/>).</summary>
    private static long AnonHugePagesKb(ulong start, ulong end)
    {
        bool inside = false;
        long kb = 0;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong from)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out ulong to))
            {
                inside = from < end && start < to;
            }
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                kb += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return kb;
    }
}
