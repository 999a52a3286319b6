using System.Buffers.Binary;
using System.Net;

namespace Klais.Xdp.Tests.Support;

/// <summary>Ethernet frames and KLAIS datagrams built by hand, for BPF_PROG_TEST_RUN.</summary>
internal static class Frames
{
    public const ushort Port = 5000;
    private const ushort EthIPv4 = 0x0800;
    private const ushort EthIPv6 = 0x86DD;
    private const ushort EthArp = 0x0806;
    private const byte ProtoUdp = 17;
    private const byte ProtoTcp = 6;

    /// <summary>A KLAIS datagram: AA 55, the 16 raw id bytes as given, the sequence, the payload.</summary>
    public static byte[] Datagram(ReadOnlySpan<byte> rawId, uint sequence = 1, string payload = "{}")
    {
        byte[] datagram = new byte[22 + payload.Length];
        datagram[0] = 0xAA;
        datagram[1] = 0x55;
        rawId.CopyTo(datagram.AsSpan(2, 16));
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(18), sequence);
        System.Text.Encoding.ASCII.GetBytes(payload, datagram.AsSpan(22));
        return datagram;
    }

    /// <summary>A datagram for the id text, NUL-padded like a device sends it.</summary>
    public static byte[] Datagram(string deviceId, uint sequence = 1, string payload = "{}")
    {
        byte[] raw = new byte[16];
        System.Text.Encoding.UTF8.GetBytes(deviceId, raw);
        return Datagram(raw, sequence, payload);
    }

    /// <summary>Ethernet (+ VLAN tags, outermost first, each as (TPID, VID)) + IPv4 (+ option bytes) + UDP.</summary>
    public static byte[] Udp4(
        byte[] payload, ushort port = Port, (ushort Tpid, ushort Vid)[]? vlans = null, int optionBytes = 0,
        bool moreFragments = false, byte protocol = ProtoUdp)
    {
        int ipHeader = 20 + optionBytes;
        byte[] l4 = protocol == ProtoUdp ? Udp(payload, port) : payload;
        byte[] ip = new byte[ipHeader + l4.Length];
        ip[0] = (byte)(0x40 | (ipHeader / 4));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), moreFragments ? (ushort)0x2000 : (ushort)0);
        ip[8] = 64;
        ip[9] = protocol;
        IPAddress.Parse("10.1.2.3").TryWriteBytes(ip.AsSpan(12), out _);
        IPAddress.Parse("10.1.2.4").TryWriteBytes(ip.AsSpan(16), out _);
        for (int i = 20; i < ipHeader; i++)
        {
            ip[i] = 1; // IPOPT_NOOP
        }

        l4.CopyTo(ip.AsSpan(ipHeader));
        return Ethernet(EthIPv4, ip, vlans);
    }

    /// <summary>Ethernet + IPv4 carrying TCP: not KLAIS whatever the port.</summary>
    public static byte[] Tcp4(byte[] payload) => Udp4(payload, protocol: ProtoTcp);

    /// <summary>Ethernet + IPv6 + UDP.</summary>
    public static byte[] Udp6(byte[] payload, ushort port = Port, (ushort Tpid, ushort Vid)[]? vlans = null)
    {
        byte[] udp = Udp(payload, port);
        byte[] ip = new byte[40 + udp.Length];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)udp.Length);
        ip[6] = ProtoUdp;
        ip[7] = 64;
        IPAddress.Parse("fd00:1::3").TryWriteBytes(ip.AsSpan(8), out _);
        IPAddress.Parse("fd00:1::4").TryWriteBytes(ip.AsSpan(24), out _);
        udp.CopyTo(ip.AsSpan(40));
        return Ethernet(EthIPv6, ip, vlans);
    }

    /// <summary>An ARP request: not IP.</summary>
    public static byte[] Arp() => Ethernet(EthArp, new byte[28], null);

    private static byte[] Udp(byte[] payload, ushort port)
    {
        byte[] udp = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), port);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        payload.CopyTo(udp.AsSpan(8));
        return udp;
    }

    private static byte[] Ethernet(ushort type, byte[] body, (ushort Tpid, ushort Vid)[]? vlans)
    {
        vlans ??= [];
        byte[] frame = new byte[14 + (4 * vlans.Length) + body.Length];
        byte[] mac = [0x02, 0, 0, 0, 0, 1];
        mac.CopyTo(frame, 0);
        mac.CopyTo(frame, 6);
        int offset = 12;
        foreach ((ushort tpid, ushort vid) in vlans)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(offset), tpid);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(offset + 2), vid);
            offset += 4;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(offset), type);
        body.CopyTo(frame, offset + 2);
        return frame;
    }
}

/// <summary>tests/vectors/device_key.txt: the golden vectors of the device key, shared with user space's tests.</summary>
internal static class GoldenVectors
{
    public static IReadOnlyList<(byte[] RawId, ulong Key)> Load()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "tests", "vectors", "device_key.txt")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        string path = dir is null
            ? throw new FileNotFoundException("tests/vectors/device_key.txt not found above " + AppContext.BaseDirectory)
            : Path.Combine(dir, "tests", "vectors", "device_key.txt");
        return File.ReadLines(path)
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(c => (Convert.FromHexString(c[0]), ulong.Parse(c[1], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();
    }
}
