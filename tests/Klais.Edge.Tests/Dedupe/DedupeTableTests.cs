using FsCheck;
using FsCheck.Fluent;
using Klais.Edge.Dedupe;
using Klais.Testing;

namespace Klais.Edge.Tests.Dedupe;

public sealed class DedupeTableTests
{
    private readonly ManualTimeProvider _clock = new();

    [Fact]
    public void Repeated_sequence_is_a_duplicate_and_a_late_one_within_the_window_is_admitted_once()
    {
        DedupeTable table = Table();
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 100));
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 103));
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 1, 103));
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 1, 100));
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 101));       // late, not seen yet
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 1, 101));
        Assert.Equal(DedupeVerdict.New, Check(table, 2, 103));       // another device
    }

    [Fact]
    public void Sequence_wraps_from_uint_max_to_zero_as_the_next_number()
    {
        DedupeTable table = Table();
        for (uint s = uint.MaxValue - 5; s != 6; s++)
        {
            Assert.Equal(DedupeVerdict.New, Check(table, 7, s));
        }

        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 7, uint.MaxValue));
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 7, 0));
        Assert.Equal(0, table.Gaps);
    }

    [Fact]
    public void Numbers_that_leave_the_window_unseen_are_counted_as_gaps_once()
    {
        DedupeTable table = Table();
        Check(table, 1, 0);
        Check(table, 1, 2);       // 1 missing, still inside the window
        Assert.Equal(0, table.Gaps);
        Check(table, 1, 100);     // 1 left the window; 3..36 jumped past it; 37..99 still inside
        Assert.Equal(1 + 34, table.Gaps);
        Check(table, 1, 164);     // 37..99 leave the window too: the 98 numbers missing between 0 and 100; 101..163 are still inside
        Assert.Equal(98, table.Gaps);
    }

    [Fact]
    public void Older_than_the_window_is_stale_until_the_device_has_sent_only_stale_ones_for_the_reset_time()
    {
        DedupeTable table = Table();
        Check(table, 1, 5000);
        Assert.Equal(DedupeVerdict.Stale, Check(table, 1, 10));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(DedupeVerdict.Stale, Check(table, 1, 11));
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 12));        // the device restarted its counter
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 1, 12));
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 13));
        Assert.Equal(2, table.Stale);
        Assert.Equal(1, table.Resets);
    }

    [Fact]
    public void Forgotten_sequence_is_admitted_again()
    {
        DedupeTable table = Table();
        Check(table, 1, 10);
        Check(table, 1, 11);
        table.Forget(DeviceKey(1), 11);
        Assert.Equal(DedupeVerdict.New, Check(table, 1, 11));
        Assert.Equal(DedupeVerdict.Duplicate, Check(table, 1, 10));
    }

    [Fact]
    public void Table_never_holds_more_devices_than_its_capacity_and_evicts_the_least_recently_seen()
    {
        DedupeTable table = Table(maxDevices: 1024);
        for (int d = 0; d < 10_000; d++)
        {
            Check(table, d, 1);
        }

        Assert.Equal(1024, table.Capacity);
        Assert.InRange(table.Devices, 900, 1024);
        Assert.Equal(10_000 - table.Devices, table.EvictedActive + table.EvictedIdle);
        Assert.Equal(32.0, DedupeTable.BytesPerDevice);
    }

    [Fact]
    public void A_million_device_table_takes_about_32_bytes_per_device()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        DedupeTable table = Table(maxDevices: 1 << 20);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1 << 20, table.Capacity);
        // 32 bytes a device, and 2 MiB (2 bytes a device here) to start the table on a huge page boundary.
        Assert.InRange(bytes / (double)table.Capacity, 32.0, 34.1);
        GC.KeepAlive(table);
    }

    [Fact]
    public void Idle_devices_are_evicted_before_active_ones()
    {
        DedupeTable table = Table(maxDevices: 1024);
        for (int d = 0; d < 1024; d++)
        {
            Check(table, d, 1);
        }

        _clock.Advance(TimeSpan.FromHours(2));
        long before = table.EvictedActive;
        for (int d = 1024; d < 1500; d++)
        {
            Check(table, d, 1);
        }

        Assert.Equal(before, table.EvictedActive);
        Assert.True(table.EvictedIdle > 0);
    }

    [Fact]
    public void Saved_windows_recognise_duplicates_after_a_restart()
    {
        string path = Path.Combine(Path.GetTempPath(), "klais-dedupe-" + Guid.NewGuid().ToString("N"));
        try
        {
            DedupeTable before = Table();
            for (uint s = 0; s < 50; s++)
            {
                Check(before, 3, s);
            }

            Assert.Equal(1, before.Save(path));
            DedupeTable after = Table();
            Assert.Equal(1, after.Load(path, _clock.GetTimestamp()));
            Assert.Equal(DedupeVerdict.Duplicate, Check(after, 3, 49));
            Assert.Equal(DedupeVerdict.Duplicate, Check(after, 3, 20));
            Assert.Equal(DedupeVerdict.New, Check(after, 3, 50));
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Equal(-1, Table().Load(path, 0));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Verdicts_match_a_model_of_the_window_for_random_walks_across_the_wrap()
    {
        Arbitrary<int[]> walks = Arb.From(Gen.ArrayOf(Gen.Choose(-80, 80)));
        Prop.ForAll(walks, steps =>
        {
            DedupeTable table = Table();
            long value = uint.MaxValue - 200L;   // unwrapped; the device sends (uint)value
            long highest = value;
            var seen = new HashSet<long>();
            for (long v = value - 63; v <= value; v++)
            {
                seen.Add(v);   // a device's first datagram marks the 63 before it as seen
            }

            if (Check(table, 9, (uint)value) != DedupeVerdict.New)
            {
                return false;
            }

            foreach (int step in steps)
            {
                value += step;
                DedupeVerdict expected;
                if (value > highest)
                {
                    expected = DedupeVerdict.New;
                    highest = value;
                    seen.Add(value);
                }
                else if (value > highest - 64)
                {
                    expected = seen.Add(value) ? DedupeVerdict.New : DedupeVerdict.Duplicate;
                }
                else
                {
                    expected = DedupeVerdict.Stale;
                }

                if (Check(table, 9, (uint)value) != expected)
                {
                    return false;
                }
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>
    /// The set's lock (in its first slot) makes each check one step: four threads offering the same datagrams at once
    /// admit each exactly once. A lock that a new device's slot overwrote, or none, admits some twice.
    /// </summary>
    [Fact]
    public void Dedupe_four_threads_offering_the_same_datagrams_at_once_admit_each_exactly_once()
    {
        DedupeTable table = Table(maxDevices: 1024);
        const int Devices = 3, Sequences = 100_000;   // few devices: the threads collide on them all the time
        ulong[] keys = Enumerable.Range(0, Devices).Select(DeviceKey).ToArray();
        long[] admitted = new long[4];
        using var start = new Barrier(4);
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, thread =>
        {
            start.SignalAndWait();
            long count = 0;
            for (uint s = 1; s <= Sequences; s++)
            {
                for (int d = 0; d < Devices; d++)
                {
                    if (table.Check(keys[d], s, 0) == DedupeVerdict.New)
                    {
                        count++;
                    }
                }
            }

            admitted[thread] = count;
        });

        Assert.Equal((long)Devices * Sequences, admitted.Sum());
        Assert.Equal(Devices, table.Devices);
    }

    [Fact]
    public void Checking_allocates_nothing()
    {
        DedupeTable table = Table();
        for (int i = 0; i < 1000; i++)
        {
            Check(table, i % 50, (uint)i);
        }

        // The table's own methods start unoptimised, and while a busy test run keeps the runtime compiling they can be
        // promoted (or replaced on the stack, which allocates once) in the middle of a run: the first runs warm up, and
        // a run of 100,000 checks must allocate nothing once they have settled. A check that allocated would allocate
        // in every run.
        long allocated = -1;
        for (int run = 0; run < 20 && allocated != 0; run++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            RunChecks(table, run * 100_000);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
    }

    // Fully optimised from the start: a loop that tiers up mid-run (on-stack replacement) allocates once itself.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void RunChecks(DedupeTable table, int from)
    {
        for (int i = from; i < from + 100_000; i++)
        {
            table.Check((ulong)(i % 5000) + 1, (uint)i, i);
        }
    }

    private static ulong DeviceKey(int device) => Contracts.Wire.DeviceKey.Compute(System.Text.Encoding.UTF8.GetBytes($"device-{device}".PadRight(16, '\0')));

    private DedupeVerdict Check(DedupeTable table, int device, uint sequence) => table.Check(DeviceKey(device), sequence, _clock.GetTimestamp());

    private DedupeTable Table(int maxDevices = 4096) => new(new DedupeOptions { MaxDeviceCount = maxDevices }, _clock);
}
