using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Klais.Xdp.Attach;

namespace Klais.Xdp.Tests.Support;

/// <summary>
/// Two network namespaces joined by a veth pair: a sender side and a receiver side, each with an IPv4 and an IPv6
/// address, so traffic crosses the veth and never touches the host's own interfaces. Names carry the process id
/// and a random part, so parallel runs do not collide; namespaces left by a killed run are removed by the next.
/// </summary>
internal sealed class VethPair : IDisposable
{
    private const string Prefix = "klxt-";

    public VethPair()
    {
        RemoveLeftovers();
        string tag = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        SenderNamespace = $"{Prefix}{Environment.ProcessId}-{tag}-s";
        ReceiverNamespace = $"{Prefix}{Environment.ProcessId}-{tag}-r";
        SenderInterface = $"kx{tag}s";
        ReceiverInterface = $"kx{tag}r";
        try
        {
            Ip.Run("netns", "add", SenderNamespace);
            Ip.Run("netns", "add", ReceiverNamespace);
            Ip.Run("link", "add", SenderInterface, "netns", SenderNamespace, "type", "veth", "peer", "name", ReceiverInterface, "netns", ReceiverNamespace);
            Configure(SenderNamespace, SenderInterface, SenderV4, SenderV6);
            Configure(ReceiverNamespace, ReceiverInterface, ReceiverV4, ReceiverV6);
            Sender = NetworkNamespace.Open(SenderNamespacePath);
            Receiver = NetworkNamespace.Open(ReceiverNamespacePath);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    // Addresses inside our own namespaces only; nothing is routed anywhere else.
    public static IPAddress SenderV4 { get; } = IPAddress.Parse("10.77.0.1");

    public static IPAddress ReceiverV4 { get; } = IPAddress.Parse("10.77.0.2");

    public static IPAddress SenderV6 { get; } = IPAddress.Parse("fd00:77::1");

    public static IPAddress ReceiverV6 { get; } = IPAddress.Parse("fd00:77::2");

    public string SenderNamespace { get; }

    public string ReceiverNamespace { get; }

    public string SenderNamespacePath => "/run/netns/" + SenderNamespace;

    public string ReceiverNamespacePath => "/run/netns/" + ReceiverNamespace;

    public string SenderInterface { get; }

    public string ReceiverInterface { get; }

    public NetworkNamespace Sender { get; } = null!;

    public NetworkNamespace Receiver { get; } = null!;

    /// <summary>A UDP socket bound in the receiver namespace to <paramref name="port"/> (IPv4 or IPv6 any).</summary>
    public Socket BindReceiver(AddressFamily family, int port) => Receiver.Run(() =>
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
        }

        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, port));
        return socket;
    });

    /// <summary>A UDP socket in the sender namespace.</summary>
    public Socket OpenSender(AddressFamily family) => Sender.Run(() => new Socket(family, SocketType.Dgram, ProtocolType.Udp));

    public void Dispose()
    {
        Sender?.Dispose();
        Receiver?.Dispose();
        // Deleting a namespace destroys its end of the veth, which destroys the pair and any XDP program on it.
        Ip.TryRun("netns", "del", SenderNamespace);
        Ip.TryRun("netns", "del", ReceiverNamespace);
    }

    private static void Configure(string ns, string device, IPAddress v4, IPAddress v6)
    {
        Ip.Run("-n", ns, "link", "set", "lo", "up");
        Ip.Run("-n", ns, "addr", "add", v4 + "/24", "dev", device);
        Ip.Run("-n", ns, "addr", "add", v6 + "/64", "dev", device, "nodad");
        Ip.Run("-n", ns, "link", "set", device, "up");
    }

    /// <summary>Removes namespaces of earlier runs whose process is gone (a killed test run cannot clean up).</summary>
    private static void RemoveLeftovers()
    {
        foreach (string line in Ip.Run("netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            string[] parts = name.Split('-');
            if (name.StartsWith(Prefix, StringComparison.Ordinal) && parts.Length >= 3
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                Ip.TryRun("netns", "del", name);
            }
        }
    }
}
