using System.Net;
using System.Net.Sockets;

namespace Klais.Testing;

/// <summary>A loopback port nobody holds right now, for a process or server the test starts.</summary>
internal static class FreePorts
{
    public static int Next(SocketType type = SocketType.Stream)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
