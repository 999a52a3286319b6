using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using static Klais.Net.Interop.Libc;

namespace Klais.Net;

/// <summary>Socket options applied before bind.</summary>
internal sealed record UdpSocketOptions
{
    /// <summary>SO_REUSEPORT: several sockets share one port and the kernel spreads flows over them.</summary>
    public bool ReusePort { get; init; }

    /// <summary>Requested SO_RCVBUF in bytes (0 = kernel default). As root SO_RCVBUFFORCE passes net.core.rmem_max.</summary>
    public int ReceiveBufferBytes { get; init; }

    /// <summary>Requested SO_SNDBUF in bytes (0 = kernel default).</summary>
    public int SendBufferBytes { get; init; }

    /// <summary>SO_RCVTIMEO: a blocking receive returns <see cref="TransferStatus.WouldBlock"/> after this long (zero = wait forever).</summary>
    public TimeSpan ReceiveTimeout { get; init; }

    /// <summary>SO_RXQ_OVFL: every datagram carries the socket's cumulative count of kernel drops.</summary>
    public bool ReportKernelDrops { get; init; } = true;
}

/// <summary>
/// A UDP socket over libc: what .NET's Socket lacks (recvmmsg/sendmmsg, SO_RXQ_OVFL, SO_RCVBUFFORCE).
/// IPv4 or IPv6 (an IPv6 socket is v6-only, so "[::]:p" and "0.0.0.0:p" can be bound side by side).
/// </summary>
internal sealed class UdpSocket : IDisposable
{
    private UdpSocket(SafeUdpSocketHandle handle, AddressFamily family)
    {
        Handle = handle;
        AddressFamily = family;
    }

    internal SafeUdpSocketHandle Handle { get; }

    public AddressFamily AddressFamily { get; }

    /// <summary>SO_RCVBUF as read back after setting it: what the kernel granted (it doubles the request for bookkeeping).</summary>
    public int ActualReceiveBufferBytes => GetIntOption(Handle, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");

    public int ActualSendBufferBytes => GetIntOption(Handle, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");

    /// <summary>The bound address (port filled in when bound to port 0).</summary>
    public unsafe IPEndPoint LocalEndPoint
    {
        get
        {
            SockAddrStorage storage = default;
            uint length = (uint)sizeof(SockAddrStorage);
            DangerousGetSockName(Handle, &storage, &length);
            return ToEndPoint(&storage);
        }
    }

    /// <summary>A socket bound to <paramref name="endpoint"/> (port 0 picks a free port).</summary>
    public static UdpSocket Bind(IPEndPoint endpoint, UdpSocketOptions options) => Create(endpoint, options, connect: false);

    /// <summary>
    /// A sending socket connected to <paramref name="remote"/>, bound first to <paramref name="local"/> when given (else
    /// the kernel picks the address and an ephemeral port).
    /// </summary>
    public static UdpSocket Connect(IPEndPoint remote, UdpSocketOptions options, IPEndPoint? local = null) => Create(remote, options, connect: true, local);

    public void Dispose() => Handle.Dispose();

    private static unsafe UdpSocket Create(IPEndPoint endpoint, UdpSocketOptions options, bool connect, IPEndPoint? local = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        int nativeFamily = endpoint.AddressFamily switch
        {
            AddressFamily.InterNetwork => AF_INET,
            AddressFamily.InterNetworkV6 => AF_INET6,
            _ => throw new ArgumentException($"Only IPv4 and IPv6 are supported; got {endpoint.AddressFamily}.", nameof(endpoint)),
        };
        var socket = new UdpSocket(CreateDatagramSocket(nativeFamily), endpoint.AddressFamily);
        try
        {
            socket.Apply(options);
            SockAddrStorage storage = default;
            uint length = FromEndPoint(endpoint, &storage);
            if (connect)
            {
                if (local is not null)
                {
                    SockAddrStorage bound = default;
                    DangerousBind(socket.Handle, &bound, FromEndPoint(local, &bound));
                }

                DangerousConnect(socket.Handle, &storage, length);
            }
            else
            {
                DangerousBind(socket.Handle, &storage, length);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Apply(UdpSocketOptions options)
    {
        if (AddressFamily == AddressFamily.InterNetworkV6)
        {
            SetIntOption(Handle, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
        }

        if (options.ReusePort)
        {
            SetIntOption(Handle, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        }

        if (options.ReceiveBufferBytes > 0)
        {
            SetBuffer(SO_RCVBUFFORCE, SO_RCVBUF, options.ReceiveBufferBytes, "SO_RCVBUF");
        }

        if (options.SendBufferBytes > 0)
        {
            SetBuffer(SO_SNDBUFFORCE, SO_SNDBUF, options.SendBufferBytes, "SO_SNDBUF");
        }

        if (options.ReceiveTimeout > TimeSpan.Zero)
        {
            SetTimeValOption(Handle, SO_RCVTIMEO, options.ReceiveTimeout, "SO_RCVTIMEO");
        }

        if (options.ReportKernelDrops)
        {
            SetIntOption(Handle, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL");
        }
    }

    /// <summary>The FORCE variant passes the sysctl ceiling but needs CAP_NET_ADMIN; without it, the capped one.</summary>
    private void SetBuffer(int forceName, int name, int bytes, string optionName)
    {
        if (TrySetIntOption(Handle, SOL_SOCKET, forceName, bytes) != 0)
        {
            SetIntOption(Handle, SOL_SOCKET, name, bytes, optionName);
        }
    }

    private static unsafe uint FromEndPoint(IPEndPoint endpoint, SockAddrStorage* storage)
    {
        if (endpoint.AddressFamily == AddressFamily.InterNetwork)
        {
            var v4 = (SockAddrIn*)storage;
            v4->Family = AF_INET;
            v4->Port = BinaryPrimitives.ReverseEndianness((ushort)endpoint.Port);
            endpoint.Address.TryWriteBytes(new Span<byte>(&v4->Address, 4), out _);
            return (uint)sizeof(SockAddrIn);
        }

        var v6 = (SockAddrIn6*)storage;
        v6->Family = AF_INET6;
        v6->Port = BinaryPrimitives.ReverseEndianness((ushort)endpoint.Port);
        endpoint.Address.TryWriteBytes(new Span<byte>(v6->Address, 16), out _);
        v6->ScopeId = (uint)endpoint.Address.ScopeId;
        return (uint)sizeof(SockAddrIn6);
    }

    private static unsafe IPEndPoint ToEndPoint(SockAddrStorage* storage)
    {
        if (storage->Family == AF_INET)
        {
            var v4 = (SockAddrIn*)storage;
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(&v4->Address, 4)), BinaryPrimitives.ReverseEndianness(v4->Port));
        }

        var v6 = (SockAddrIn6*)storage;
        return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(v6->Address, 16), v6->ScopeId), BinaryPrimitives.ReverseEndianness(v6->Port));
    }
}
