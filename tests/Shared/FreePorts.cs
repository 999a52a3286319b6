using System.Net;
using System.Net.Sockets;

namespace Klais.Testing;

/// <summary>
/// A loopback port nobody holds right now, for a process or server the test starts, taken from below the kernel's
/// ephemeral range (<c>/proc/sys/net/ipv4/ip_local_port_range</c>).
/// </summary>
/// <remarks>
/// Not from the ephemeral range, as <c>bind(0)</c> would give: such a port is free only until it is bound, and
/// meanwhile the kernel may hand the same number to anything binding port 0, such as a mock broker
/// (<c>KafkaDevCluster</c>). A test's process that then binds it while that broker is down (an outage test) keeps
/// the broker from listening again, and librdkafka's mock aborts the whole test host: seen once in CI, with two
/// outage tests running side by side. Ports below the range are never handed out by the kernel on its own, so only
/// another caller of this class could take the same one, and within a process it hands each port out once.
/// </remarks>
internal static class FreePorts
{
    private const int Lowest = 10_000;
    private static readonly Lock Gate = new();
    private static readonly HashSet<int> Given = [];

    public static int Next(SocketType type = SocketType.Stream)
    {
        int below = EphemeralLow();
        if (below - Lowest < 1_000)
        {
            return Bound(type, 0); // no room below the range: the kernel's choice, as before
        }

        lock (Gate)
        {
            for (int attempt = 0; attempt < 1_000; attempt++)
            {
                int port = Random.Shared.Next(Lowest, below);
                if (!Given.Contains(port) && Bound(type, port) == port && Bound(OtherType(type), port) == port)
                {
                    Given.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"No free loopback port between {Lowest} and {below - 1} in 1,000 tries.");
    }

    /// <summary>Binds <paramref name="port"/> (0: the kernel's choice) and closes again; the port bound, or −1 when it is taken.</summary>
    private static int Bound(SocketType type, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException)
        {
            return -1;
        }

        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static SocketType OtherType(SocketType type) => type == SocketType.Dgram ? SocketType.Stream : SocketType.Dgram;

    /// <summary>The first port of the kernel's ephemeral range (32768 by default).</summary>
    private static int EphemeralLow()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            return int.Parse(text.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 32_768;
        }
    }
}
