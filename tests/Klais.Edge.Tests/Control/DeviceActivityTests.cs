using System.Text;
using Klais.Edge.Control;
using Klais.Edge.Devices;

namespace Klais.Edge.Tests.Control;

public sealed class DeviceActivityTests
{
    private static void Send(DeviceActivity activity, string id, int count, uint firstSequence = 1, int bytes = 100, uint step = 1)
    {
        byte[] text = Encoding.UTF8.GetBytes(id);
        ulong key = DevicePolicy.KeyOf(id);
        for (uint i = 0; i < count; i++)
        {
            activity.Record(key, text, bytes, firstSequence + (i * step));
        }
    }

    [Fact]
    public void Counts_packets_bytes_duplicates_and_gaps_per_device_and_resets_each_window()
    {
        using var activity = new DeviceActivity(capacity: 64, suspectPackets: 1_000);
        Send(activity, "sensor-1", 10);
        Send(activity, "sensor-2", 5, firstSequence: 100, step: 3); // 2 missing between each: 8 gaps
        activity.RecordDuplicate(DevicePolicy.KeyOf("sensor-1"), "sensor-1"u8, 3);

        (List<DeviceWindow> devices, long overflow, _) = activity.EndWindow();
        Assert.Equal(0, overflow);
        Assert.Equal(2, devices.Count);
        Assert.Equal(new DeviceWindow("sensor-1", 10, 1000, 1, 0, false), devices[0]); // busiest first
        Assert.Equal(new DeviceWindow("sensor-2", 5, 500, 0, 8, false), devices[1]);

        Send(activity, "sensor-3", 1);
        (devices, _, _) = activity.EndWindow();
        Assert.Equal("sensor-3", Assert.Single(devices).DeviceId);
        (devices, _, _) = activity.EndWindow();
        Assert.Empty(devices);
    }

    [Fact]
    public void A_device_reaching_the_suspicion_count_is_signalled_and_taken_once_per_window()
    {
        using var activity = new DeviceActivity(capacity: 64, suspectPackets: 50);
        Send(activity, "quiet", 49);
        Assert.Equal(0, activity.SuspectSignal.CurrentCount);
        Send(activity, "flooder", 120);
        Assert.Equal(1, activity.SuspectSignal.CurrentCount);

        DeviceWindow suspect = Assert.Single(activity.TakeNewSuspects());
        Assert.Equal("flooder", suspect.DeviceId);
        Assert.True(suspect.Suspect);
        Assert.Empty(activity.TakeNewSuspects());

        (List<DeviceWindow> devices, _, _) = activity.EndWindow();
        Assert.True(devices.Single(d => d.DeviceId == "flooder").Suspect);
        Assert.False(devices.Single(d => d.DeviceId == "quiet").Suspect);
        Send(activity, "flooder", 50);
        Assert.Single(activity.TakeNewSuspects()); // a new window: suspected again
    }

    [Fact]
    public void Devices_beyond_the_table_are_counted_in_aggregate()
    {
        using var activity = new DeviceActivity(capacity: 16, suspectPackets: 1_000);
        for (int i = 0; i < 40; i++)
        {
            Send(activity, "dev-" + i, 1, bytes: 10);
        }

        (List<DeviceWindow> devices, long overflowPackets, long overflowBytes) = activity.EndWindow();
        Assert.Equal(16, devices.Count);
        Assert.Equal(24, overflowPackets);
        Assert.Equal(240, overflowBytes);
    }

    [Fact]
    public void Recording_allocates_nothing()
    {
        using var activity = new DeviceActivity(capacity: 1024, suspectPackets: 1_000_000);
        byte[][] ids = [.. Enumerable.Range(0, 100).Select(i => Encoding.UTF8.GetBytes("alloc-" + i))];
        ulong[] keys = [.. Enumerable.Range(0, 100).Select(i => DevicePolicy.KeyOf("alloc-" + i))];
        for (int i = 0; i < 1000; i++)
        {
            activity.Record(keys[i % 100], ids[i % 100], 64, (uint)i); // warm up
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            activity.Record(keys[i % 100], ids[i % 100], 64, (uint)i);
            activity.RecordDuplicate(keys[i % 100], ids[i % 100], (uint)i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
