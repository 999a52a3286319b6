using System.Net;
using System.Net.Sockets;

namespace Klais.Xdp.Tests.Support;

/// <summary>
/// A veth pair between two namespaces with the filter attached in generic mode to the receiver's end, UDP sockets
/// on both sides, and a way to send datagrams and see which arrived. Shared by the tests of one collection (they
/// run one after another, so counter deltas are theirs alone); each test uses device ids of its own.
/// </summary>
public sealed class AttachedFilterFixture : IDisposable
{
    public const int KlaisPort = 5000;
    public const int OtherPort = 5001;
    private const string SentinelId = "sentinel";
    private readonly Socket[] _sockets = [];
    private uint _sentinelSequence;

    public AttachedFilterFixture()
    {
        if (Privileges.MissingReason is not null)
        {
            return;
        }

        Veth = new VethPair();
        try
        {
            Filter = XdpFilter.Attach(new XdpOptions
            {
                Interface = Veth.ReceiverInterface,
                NetworkNamespace = Veth.ReceiverNamespacePath,
                Mode = XdpMode.Generic,
                Ports = [KlaisPort],
                // No default rate limit (tests set their own per device); every sampled drop raises an event.
                Parameters = new XdpParameters { SampleEvery = 1, EventsPerSecond = 100_000 },
                EventChannelCapacity = 4096,
            });
            Receiver4 = Veth.BindReceiver(AddressFamily.InterNetwork, KlaisPort);
            Receiver6 = Veth.BindReceiver(AddressFamily.InterNetworkV6, KlaisPort);
            OtherPort4 = Veth.BindReceiver(AddressFamily.InterNetwork, OtherPort);
            Sender4 = Veth.OpenSender(AddressFamily.InterNetwork);
            Sender6 = Veth.OpenSender(AddressFamily.InterNetworkV6);
            _sockets = [Receiver4, Receiver6, OtherPort4, Sender4, Sender6];

            // Resolve the neighbours (ARP, NDP) once, so no test's first datagram waits in a neighbour queue.
            Collect(AddressFamily.InterNetwork, []);
            Collect(AddressFamily.InterNetworkV6, []);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    internal VethPair Veth { get; } = null!;

    public XdpFilter Filter { get; } = null!;

    public Socket Receiver4 { get; } = null!;

    public Socket Receiver6 { get; } = null!;

    public Socket OtherPort4 { get; } = null!;

    public Socket Sender4 { get; } = null!;

    public Socket Sender6 { get; } = null!;

    public static IPEndPoint Target(AddressFamily family, int port = KlaisPort) =>
        new(family == AddressFamily.InterNetwork ? VethPair.ReceiverV4 : VethPair.ReceiverV6, port);

    /// <summary>
    /// Sends <paramref name="datagrams"/> to the KLAIS port, then a valid sentinel datagram, and returns what the
    /// receiving socket got before the sentinel. One flow over one veth keeps order, so when the sentinel arrives
    /// every earlier datagram has either arrived or been dropped, and the counters are final: no sleeps.
    /// </summary>
    public List<byte[]> Collect(AddressFamily family, params byte[][] datagrams)
    {
        Socket sender = family == AddressFamily.InterNetwork ? Sender4 : Sender6;
        Socket receiver = family == AddressFamily.InterNetwork ? Receiver4 : Receiver6;
        IPEndPoint target = Target(family);
        foreach (byte[] datagram in datagrams)
        {
            sender.SendTo(datagram, target);
        }

        byte[] sentinel = Frames.Datagram(SentinelId, ++_sentinelSequence);
        sender.SendTo(sentinel, target);
        var received = new List<byte[]>();
        byte[] buffer = new byte[2048];
        while (true)
        {
            int length = receiver.Receive(buffer); // ReceiveTimeout 5 s: a lost sentinel fails the test
            byte[] datagram = buffer[..length];
            if (datagram.AsSpan().SequenceEqual(sentinel))
            {
                return received;
            }

            received.Add(datagram);
        }
    }

    /// <summary>The next event for <paramref name="deviceId"/> of <paramref name="kind"/>, skipping others; fails after 5 s.</summary>
    public async Task<XdpEvent> NextEvent(string deviceId, XdpEventKind kind)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await foreach (XdpEvent e in Filter.Events.ReadAllAsync(timeout.Token))
        {
            if (e.DeviceId == deviceId && e.Kind == kind)
            {
                return e;
            }
        }

        throw new InvalidOperationException("The event channel completed.");
    }

    public void Dispose()
    {
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }

        Filter?.Dispose();
        Veth?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AttachedFilterTests : ICollectionFixture<AttachedFilterFixture>
{
    public const string Name = "XDP attached on a veth";
}
