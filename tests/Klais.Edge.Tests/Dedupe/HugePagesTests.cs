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
    public void An_advised_table_is_zeroed_and_its_touched_pages_are_huge_ones()
    {
        HugePageTable<long> table = HugePages.Allocate<long>(6 * HugePages.Size / sizeof(long));

        Assert.True(table.Advised);
        Assert.All(table.AsSpan().ToArray(), v => Assert.Equal(0, v));
        for (int i = 0; i < table.Length; i += 4096 / sizeof(long))
        {
            table[i] = i;   // first touch of every page
        }

        // Counted over the whole mapping the table lies in, which other tests' tables may share (more huge pages) and
        // which may hold recycled heap memory that was huge before (so no growth): a lower bound only.
        long hugeKb = AnonHugePagesKb(table.Address, table.Address + (ulong)table.Length * sizeof(long));
        if (Mode == "never")
        {
            Assert.Equal(0, hugeKb);   // the advice is taken, the kernel gives small pages: the table still works
        }
        else
        {
            // 6 MiB from a 2 MiB boundary are 3 whole huge pages; allow one the kernel could not find at once.
            Assert.True(hugeKb >= 2 * 2048, $"{hugeKb} kB of huge pages in the table's mapping");
        }
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(1000, 64)]
    [InlineData(HugePages.Size / 64, HugePages.Size)]
    [InlineData(300_000, HugePages.Size)]
    public void A_table_starts_on_a_huge_page_boundary_or_a_cache_line_so_its_entries_sit_on_whole_lines(int length, int boundary)
    {
        HugePageTable<Line> table = HugePages.Allocate<Line>(length);

        Assert.Equal(0UL, table.Address % (ulong)boundary);
        Assert.Equal(length, table.Length);
        table[length - 1].Last = 7;
        Assert.Equal(7, table.AsSpan()[^1].Last);
        Assert.Throws<ArgumentOutOfRangeException>(() => table[length]);
        Assert.Throws<ArgumentOutOfRangeException>(() => table[-1]);
    }

    [Fact]
    public void A_table_smaller_than_a_huge_page_is_not_advised_and_a_large_one_is()
    {
        var time = new ManualTimeProvider();
        Assert.False(new DedupeTable(new DedupeOptions { MaxDeviceCount = 1024 }, time).InHugePages);   // 32 KiB
        Assert.True(new DedupeTable(new DedupeOptions { MaxDeviceCount = 1 << 18 }, time).InHugePages); // 8 MiB
    }

    /// <summary>A 64-byte entry: one cache line when aligned.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    private struct Line
    {
        public long First;
        public long Last;
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
