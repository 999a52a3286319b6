using System.Net.Sockets;
using Klais.Xdp.Native;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests;

/// <summary>
/// Real datagrams from the sender namespace over the veth into the receiver namespace, where the filter runs in
/// generic mode: each outcome is checked in the per-CPU statistics (summed) and in what the UDP socket received.
/// </summary>
[Collection(AttachedFilterTests.Name)]
public sealed class XdpFilterTests(AttachedFilterFixture net)
{
    private XdpFilter Filter => net.Filter;

    [PrivilegedFact]
    public void Attaches_in_generic_mode_on_the_veth()
    {
        Assert.Equal(XdpMode.Generic, Filter.Attachment.Mode);
        Assert.Equal(net.Veth.ReceiverInterface, Filter.Attachment.Interface);
        Assert.NotEqual(0u, Filter.Attachment.ProgramId);
        Assert.Equal([(ushort)AttachedFilterFixture.KlaisPort], Filter.GetPorts());
    }

    [PrivilegedFact]
    public void A_valid_datagram_reaches_the_socket_and_counts_as_passed()
    {
        byte[] valid = Frames.Datagram("valid-1", 1, """{"t":21.5}""");
        XdpStatistics before = Filter.ReadStatistics();

        List<byte[]> received = net.Collect(AddressFamily.InterNetwork, valid);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal([valid], received);
        Assert.Equal(2UL, after.Passed.Packets - before.Passed.Packets); // the datagram and the sentinel
        Assert.Equal(before.Dropped, after.Dropped);
    }

    [PrivilegedFact]
    public void Too_short_and_bad_magic_datagrams_are_dropped_in_the_kernel()
    {
        byte[] valid = Frames.Datagram("garbage-1");
        byte[] badMagic = (byte[])valid.Clone();
        badMagic[0] = 0x55;
        byte[] tooShort = valid[..21];
        XdpStatistics before = Filter.ReadStatistics();

        List<byte[]> received = net.Collect(AddressFamily.InterNetwork, tooShort, badMagic, valid, [], badMagic);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal([valid], received);
        Assert.Equal(2UL, after.DroppedSize.Packets - before.DroppedSize.Packets); // 21 bytes and the empty one
        Assert.Equal(2UL, after.DroppedMagic.Packets - before.DroppedMagic.Packets);
        Assert.Equal(2UL, after.Passed.Packets - before.Passed.Packets);
    }

    [PrivilegedFact]
    public void IPv6_datagrams_are_checked_like_IPv4_ones()
    {
        byte[] valid = Frames.Datagram("v6-dev-1");
        byte[] badMagic = (byte[])valid.Clone();
        badMagic[1] = 0;
        XdpStatistics before = Filter.ReadStatistics();

        List<byte[]> received = net.Collect(AddressFamily.InterNetworkV6, badMagic, valid, valid[..3]);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal([valid], received);
        Assert.Equal(1UL, after.DroppedMagic.Packets - before.DroppedMagic.Packets);
        Assert.Equal(1UL, after.DroppedSize.Packets - before.DroppedSize.Packets);
    }

    [PrivilegedFact]
    public void Traffic_to_another_port_passes_untouched()
    {
        byte[] garbage = [1, 2, 3];
        XdpStatistics before = Filter.ReadStatistics();

        net.Sender4.SendTo(garbage, AttachedFilterFixture.Target(AddressFamily.InterNetwork, AttachedFilterFixture.OtherPort));
        byte[] buffer = new byte[64];
        int length = net.OtherPort4.Receive(buffer);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal(garbage, buffer[..length]);
        Assert.True(after.NotKlais.Packets - before.NotKlais.Packets >= 1); // plus any ARP/NDP on the link
        Assert.Equal(before.Dropped, after.Dropped);
    }

    [PrivilegedFact]
    public void A_blocked_device_is_dropped_from_its_next_packet_until_unblocked()
    {
        byte[] first = Frames.Datagram("blocked-1", 1);
        byte[] second = Frames.Datagram("blocked-1", 2);
        XdpStatistics before = Filter.ReadStatistics();

        Filter.Block("blocked-1", ttl: null, reason: 42);
        List<byte[]> whileBlocked = net.Collect(AddressFamily.InterNetwork, first);
        BlockedDevice listed = Assert.Single(Filter.ListBlocked(), b => b.DeviceKey == XdpFilterExtensions.KeyOf("blocked-1"));
        Assert.True(Filter.Unblock("blocked-1"));
        List<byte[]> afterUnblock = net.Collect(AddressFamily.InterNetwork, second);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Empty(whileBlocked);
        Assert.Equal([second], afterUnblock);
        Assert.Equal(1UL, after.DroppedBlocked.Packets - before.DroppedBlocked.Packets);
        Assert.Equal((42u, (TimeSpan?)null), (listed.Reason, listed.ExpiresIn));
        Assert.False(Filter.Unblock("blocked-1"));
    }

    [PrivilegedFact]
    public void An_expired_blocklist_entry_lets_packets_pass_and_is_purged()
    {
        ulong key = XdpFilterExtensions.KeyOf("expired-1");
        byte[] datagram = Frames.Datagram("expired-1");
        // Expired a second ago, written as the control plane's TTL would leave it (Block refuses a past TTL).
        Filter.Program.Blocklist.Update(key, new KlaisBlock { ExpiresNs = Interop.Libc.MonotonicNanoseconds() - 1_000_000_000, Reason = 3 });
        Filter.Block("expired-2", TimeSpan.FromHours(1), 4);
        XdpStatistics before = Filter.ReadStatistics();

        List<byte[]> received = net.Collect(AddressFamily.InterNetwork, datagram);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal([datagram], received);
        Assert.Equal(before.DroppedBlocked, after.DroppedBlocked);
        Assert.True(Assert.Single(Filter.ListBlocked(), b => b.DeviceKey == key).IsExpired);
        Assert.Equal(1, Filter.PurgeExpiredBlocks());
        BlockedDevice kept = Assert.Single(Filter.ListBlocked());
        Assert.InRange(kept.ExpiresIn!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        Assert.True(Filter.Unblock("expired-2"));
    }

    [PrivilegedFact]
    public void A_per_device_limit_takes_effect_for_the_next_packet_and_removing_it_restores_the_defaults()
    {
        byte[][] burst = Enumerable.Range(1, 5).Select(i => Frames.Datagram("limited-1", (uint)i)).ToArray();
        net.Collect(AddressFamily.InterNetwork, Frames.Datagram("limited-1", 0)); // seen before the limit is set
        XdpStatistics before = Filter.ReadStatistics();

        // 2 at once, then 1 per second: this test sends far faster than that.
        Filter.SetDeviceLimit("limited-1", new DeviceLimit(MaxTokens: 2, RefillRate: 1));
        List<byte[]> limited = net.Collect(AddressFamily.InterNetwork, burst);
        Assert.True(Filter.TryGetDeviceState(XdpFilterExtensions.KeyOf("limited-1"), out DeviceState state));
        Assert.True(Filter.RemoveDeviceLimit(XdpFilterExtensions.KeyOf("limited-1")));
        List<byte[]> unlimited = net.Collect(AddressFamily.InterNetwork, burst);

        XdpStatistics after = Filter.ReadStatistics();
        Assert.Equal(burst[..2], limited);
        Assert.Equal(3UL, after.DroppedRate.Packets - before.DroppedRate.Packets);
        Assert.Equal(new DeviceLimit(2, 1), state.Limit);
        Assert.Equal(burst, unlimited);
        Assert.Empty(Filter.ListDeviceLimits());
    }

    [PrivilegedFact]
    public void Default_limits_reach_devices_already_seen()
    {
        byte[][] burst = Enumerable.Range(1, 4).Select(i => Frames.Datagram("default-1", (uint)i)).ToArray();
        net.Collect(AddressFamily.InterNetwork, burst[0]);
        XdpParameters original = Filter.GetParameters();
        // The sentinel follows the defaults too: its own limit keeps it out of this test's arithmetic.
        Filter.SetDeviceLimit("sentinel", new DeviceLimit(1_000_000, 1_000_000));
        try
        {
            Filter.SetParameters(original with { DefaultMaxTokens = 1, DefaultRefillRate = 1 });
            List<byte[]> received = net.Collect(AddressFamily.InterNetwork, burst[1..]);

            Assert.True(received.Count <= 1, $"{received.Count} of 3 passed a 1-token bucket");
        }
        finally
        {
            Filter.SetParameters(original);
            Filter.RemoveDeviceLimit(XdpFilterExtensions.KeyOf("sentinel"));
        }
    }

    [PrivilegedFact]
    public void Changing_the_ports_changes_what_is_inspected()
    {
        byte[] badMagic = Frames.Datagram("ports-1");
        badMagic[0] = 0;
        try
        {
            Filter.SetPorts([AttachedFilterFixture.OtherPort]);
            Assert.Equal([(ushort)AttachedFilterFixture.OtherPort], Filter.GetPorts());
            List<byte[]> received = net.Collect(AddressFamily.InterNetwork, badMagic);

            Assert.Equal([badMagic], received); // port 5000 is no longer inspected
        }
        finally
        {
            Filter.SetPorts([AttachedFilterFixture.KlaisPort]);
        }
    }

    [PrivilegedFact]
    public void Map_errors_name_the_call_the_map_and_the_errno()
    {
        // ai_params has one entry; index 1 is out of range, which the kernel answers with E2BIG.
        var e = Assert.Throws<BpfException>(() => Filter.Program.AiParams.Update(1u, default(KlaisParams)));

        Assert.Equal("bpf_map_update_elem(ai_params)", e.Operation);
        Assert.Equal("E2BIG", e.ErrnoName);
        Assert.StartsWith("bpf_map_update_elem(ai_params): E2BIG (", e.Message, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Bad_arguments_are_refused_before_any_map_is_touched()
    {
        Assert.Throws<ArgumentException>(() => Filter.SetDeviceLimit(1UL, new DeviceLimit(0, 0)));
        Assert.Throws<ArgumentException>(() => Filter.SetPorts([]));
        Assert.Throws<ArgumentException>(() => Filter.SetParameters(new XdpParameters { DefaultRefillRate = 5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Filter.Block(1UL, TimeSpan.Zero, 0));
        Assert.Equal([(ushort)AttachedFilterFixture.KlaisPort], Filter.GetPorts());
    }
}
