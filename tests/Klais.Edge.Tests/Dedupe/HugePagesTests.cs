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
    [Fact]
    public void An_advised_table_is_zeroed_and_the_kernel_marks_its_huge_pages_for_huge_page_use()
    {
        HugePageTable<long> table = HugePages.Allocate<long>(6 * HugePages.Size / sizeof(long));

        Assert.True(table.Advised);
        Assert.All(table.AsSpan().ToArray(), v => Assert.Equal(0, v));
        // The advice is checked where the kernel keeps it: every mapping of the table's range carries VM_HUGEPAGE ("hg"
        // in /proc/self/smaps' VmFlags), which is what makes a fault there ask for a huge page. Whether one is free at
        // that moment is the kernel's to decide (under memory pressure it falls back to small pages and collapses them
        // later), and a range the runtime reused was faulted in before the advice: counting AnonHugePages failed under
        // load for both reasons, so it is not asserted.
        ulong start = table.Address;
        ulong end = start + ((ulong)table.Length * sizeof(long));
        List<(ulong From, ulong To, bool Huge)> mappings = Mappings(start, end);
        Assert.NotEmpty(mappings);
        Assert.All(mappings, m => Assert.True(m.Huge, $"mapping {m.From:x}-{m.To:x} of the table {start:x}-{end:x} is not advised"));
        Assert.True(mappings[0].From <= start && mappings[^1].To >= end, "the table's range is not mapped in full");
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

    /// <summary>This process's mappings that overlap [<paramref name="start"/>, <paramref name="end"/>), in order, and whether each carries the huge-page advice.</summary>
    private static List<(ulong From, ulong To, bool Huge)> Mappings(ulong start, ulong end)
    {
        var mappings = new List<(ulong From, ulong To, bool Huge)>();
        bool inside = false;
        ulong from = 0, to = 0;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong f)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out ulong t))
            {
                (from, to) = (f, t);
                inside = from < end && start < to;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                mappings.Add((from, to, line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("hg")));
            }
        }

        return mappings;
    }
}
