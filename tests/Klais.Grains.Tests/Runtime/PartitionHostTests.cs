using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Runtime;
using Klais.Testing;

namespace Klais.Grains.Tests.Runtime;

public sealed class PartitionHostTests
{
    [Fact]
    public void Idle_clean_grains_leave_memory_and_come_back_with_their_state()
    {
        var clock = new ManualTimeProvider();
        var context = new FakeGrainContext(clock);
        var host = new PartitionHost(3, epoch: 7, passive: []);
        GrainKey key = GrainKey.Device("d");
        Activation a = host.Activate(key.ToString(), key, out bool created);
        Assert.True(created);
        a.Grain.Handle(new ReportEnvelope { SourceId = "edge-1", Sequence = 5, Device = new DeviceReport { DeviceId = "d", Packets = 42, WindowMs = 1000 } }, context);
        a.LastUsedUnixMs = 1000;
        host.MarkDirty(a);

        Assert.Equal(0, host.Evict(before: 2000, "s1")); // dirty: its state is not written yet
        Assert.Single(host.TakeDirty());
        Assert.Equal(0, host.Evict(before: 1000, "s1")); // used at 1000: not idle before 1000
        Assert.Equal(1, host.Evict(before: 2000, "s1"));
        Assert.Empty(host.Active);
        GrainStateRecord passive = GrainStateRecord.Parser.ParseFrom(host.Passive[key.ToString()]);
        Assert.Equal((7L, "s1"), (passive.Epoch, passive.SiloId));

        Activation back = host.Activate(key.ToString(), key, out created);
        Assert.False(created);
        var device = (DeviceGrain)back.Grain;
        Assert.Equal(42UL, device.State.Packets);
        // The sequence came back too: the same record again is a replay.
        Assert.False(device.Handle(new ReportEnvelope { SourceId = "edge-1", Sequence = 5, Device = new DeviceReport { DeviceId = "d", Packets = 42 } }, context));
        Assert.Empty(host.Passive);
    }
}
