using System.Net;
using System.Net.Sockets;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests.Events;

/// <summary>Events from the ring buffer arrive on the channel with the packet's details.</summary>
[Collection(AttachedFilterTests.Name)]
public sealed class XdpEventTests(AttachedFilterFixture net)
{
    [PrivilegedFact]
    public async Task First_sight_of_a_device_raises_an_event_with_its_key_id_source_and_sequence()
    {
        net.Collect(AddressFamily.InterNetwork, Frames.Datagram("new-dev-1", 77));

        XdpEvent e = await net.NextEvent("new-dev-1", XdpEventKind.FirstSeen);

        var sender = (IPEndPoint)net.Sender4.LocalEndPoint!;
        Assert.Equal(XdpFilterExtensions.KeyOf("new-dev-1"), e.DeviceKey);
        Assert.Equal(77u, e.Sequence);
        Assert.Equal(new IPEndPoint(VethPair.SenderV4, sender.Port), e.Source);
        Assert.Equal(0u, e.Reason);
        Assert.InRange(e.TimestampNs, 1UL, Interop.Libc.MonotonicNanoseconds());
    }

    [PrivilegedFact]
    public async Task A_blocked_drop_raises_an_event_with_the_block_reason()
    {
        net.Filter.Block("evt-blocked", TimeSpan.FromMinutes(5), reason: 1234);
        try
        {
            net.Collect(AddressFamily.InterNetworkV6, Frames.Datagram("evt-blocked", 5));

            XdpEvent e = await net.NextEvent("evt-blocked", XdpEventKind.Blocked);

            Assert.Equal(1234u, e.Reason);
            Assert.Equal(5u, e.Sequence);
            Assert.Equal(VethPair.SenderV6, e.Source.Address);
        }
        finally
        {
            net.Filter.Unblock("evt-blocked");
        }
    }

    [PrivilegedFact]
    public async Task A_rate_limited_drop_raises_an_event()
    {
        net.Filter.SetDeviceLimit("evt-limited", new DeviceLimit(1, 1));
        try
        {
            net.Collect(AddressFamily.InterNetwork, Frames.Datagram("evt-limited", 1), Frames.Datagram("evt-limited", 2));

            XdpEvent e = await net.NextEvent("evt-limited", XdpEventKind.RateLimited);

            Assert.Equal(2u, e.Sequence);
            Assert.Equal(XdpFilterExtensions.KeyOf("evt-limited"), e.DeviceKey);
        }
        finally
        {
            net.Filter.RemoveDeviceLimit(XdpFilterExtensions.KeyOf("evt-limited"));
        }
    }
}
