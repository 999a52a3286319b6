using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using static Klais.Net.Interop.Libc;

namespace Klais.Net;

/// <summary>
/// Who sent a datagram: the IP address as 16 bytes (IPv4 as the mapped address <c>::ffff:a.b.c.d</c>) and the port.
/// A plain value read from recvmmsg's <c>msg_name</c>: no allocation until it is turned into text.
/// <see cref="None"/> when the kernel gave no address.
/// </summary>
internal readonly struct DatagramSource : IEquatable<DatagramSource>
{
    // The address bytes in network order, read as two little-endian words: only compared and hashed, never computed on.
    private readonly ulong _high;
    private readonly ulong _low;

    private DatagramSource(ulong high, ulong low, ushort port)
    {
        _high = high;
        _low = low;
        Port = port;
    }

    public static DatagramSource None => default;

    public ushort Port { get; }

    public bool IsNone => _high == 0 && _low == 0;

    /// <summary>A 64-bit mix of the address (not the port): spreads addresses evenly over bitmap bits and table slots.</summary>
    public ulong AddressHash
    {
        get
        {
            // SplitMix64's finalizer over the two halves: cheap, and every input bit moves every output bit.
            ulong x = _high ^ (_low * 0x9E3779B97F4A7C15UL);
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }

    public static DatagramSource FromEndPoint(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        Span<byte> bytes = stackalloc byte[16];
        IPAddress address = endpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? endpoint.Address.MapToIPv6() : endpoint.Address;
        address.TryWriteBytes(bytes, out _);
        return FromBytes(bytes, (ushort)endpoint.Port);
    }

    /// <summary>The address of a filled <c>sockaddr_in</c> or <c>sockaddr_in6</c>; <see cref="None"/> for any other family or length.</summary>
    internal static unsafe DatagramSource FromSockAddr(void* name, uint length)
    {
        if (name == null || length < sizeof(ushort))
        {
            return None;
        }

        ushort family = *(ushort*)name;
        if (family == AF_INET && length >= (uint)sizeof(SockAddrIn))
        {
            var v4 = (SockAddrIn*)name;
            Span<byte> mapped = stackalloc byte[16];
            mapped[10] = 0xFF;
            mapped[11] = 0xFF;
            MemoryMarshal.Write(mapped[12..], v4->Address);
            return FromBytes(mapped, BinaryPrimitives.ReverseEndianness(v4->Port));
        }

        if (family == AF_INET6 && length >= (uint)sizeof(SockAddrIn6))
        {
            var v6 = (SockAddrIn6*)name;
            return FromBytes(new ReadOnlySpan<byte>(v6->Address, 16), BinaryPrimitives.ReverseEndianness(v6->Port));
        }

        return None;
    }

    /// <summary>The address as .NET knows it (IPv4 unmapped); allocates.</summary>
    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteAddress(bytes);
        var address = new IPAddress(bytes);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>The 16 address bytes in network order.</summary>
    public void WriteAddress(Span<byte> destination)
    {
        MemoryMarshal.Write(destination, _high);
        MemoryMarshal.Write(destination[8..], _low);
    }

    /// <summary>The address alone (no port), as reports carry it: "192.0.2.7" or "2001:db8::7".</summary>
    public string AddressText() => IsNone ? string.Empty : ToAddress().ToString();

    public override string ToString() => IsNone ? "(none)" : new IPEndPoint(ToAddress(), Port).ToString();

    public bool Equals(DatagramSource other) => _high == other._high && _low == other._low && Port == other.Port;

    public override bool Equals(object? obj) => obj is DatagramSource other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low, Port);

    public static bool operator ==(DatagramSource left, DatagramSource right) => left.Equals(right);

    public static bool operator !=(DatagramSource left, DatagramSource right) => !left.Equals(right);

    internal static DatagramSource FromBytes(ReadOnlySpan<byte> address16, ushort port) =>
        new(MemoryMarshal.Read<ulong>(address16), MemoryMarshal.Read<ulong>(address16[8..]), port);

    /// <summary>Rebuilds a source from the two words <see cref="Words"/> gave (a table that stores sources as numbers).</summary>
    internal static DatagramSource FromWords(ulong high, ulong low) => new(high, low, 0);

    /// <summary>The address as two words, for tables that store it without the struct.</summary>
    internal (ulong High, ulong Low) Words => (_high, _low);
}
