using static Klais.Net.Interop.Libc;

namespace Klais.Net;

/// <summary>
/// Buffers for one recvmmsg call: <see cref="Capacity"/> datagrams of up to <see cref="MaxDatagramBytes"/> each, plus a
/// control buffer per datagram for the SO_RXQ_OVFL drop counter and an address buffer for its sender. Owned by one thread; a receive allocates nothing.
/// Spans returned by the indexer are valid until the next <see cref="Receive"/>.
/// </summary>
internal sealed unsafe class ReceiveBatch : IDisposable
{
    // CMSG_SPACE(sizeof(uint)) is 24 on LP64; 64 leaves room should the kernel add another message.
    private const int ControlBytes = 64;
    private readonly NativeMessageArray _messages;

    public ReceiveBatch(int capacity, int maxDatagramBytes) =>
        _messages = new NativeMessageArray(capacity, maxDatagramBytes, ControlBytes, sizeof(SockAddrIn6));

    public int Capacity => _messages.Count;

    public int MaxDatagramBytes => _messages.MaxDatagramBytes;

    /// <summary>Datagrams filled by the last <see cref="Receive"/>.</summary>
    public int Count { get; private set; }

    /// <summary>How the last receive ended (<see cref="TransferStatus.WouldBlock"/> when the receive timeout passed).</summary>
    public TransferStatus LastStatus { get; private set; }

    /// <summary>Datagrams of the last batch that were longer than <see cref="MaxDatagramBytes"/> and cut by the kernel.</summary>
    public int TruncatedCount { get; private set; }

    /// <summary>
    /// The socket's cumulative kernel drop count (SO_RXQ_OVFL) as carried by the latest datagram that had one.
    /// The kernel attaches it only once drops have happened, as a u32 that wraps.
    /// </summary>
    public long KernelDrops { get; private set; }

    /// <summary>Datagram <paramref name="index"/> of the last batch (cut to <see cref="MaxDatagramBytes"/> when truncated).</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} datagrams.");
            }

            MMsgHdr* message = _messages.Headers + index;
            return new ReadOnlySpan<byte>(message->Header.Iov->Base, (int)Math.Min(message->Length, (uint)MaxDatagramBytes));
        }
    }

    /// <summary>The sender of datagram <paramref name="index"/> of the last batch.</summary>
    public DatagramSource Source(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} datagrams.");
        }

        MsgHdr* header = &_messages.Headers[index].Header;
        return DatagramSource.FromSockAddr(header->Name, header->NameLength);
    }

    public bool IsTruncated(int index) =>
        (uint)index < (uint)Count ? (_messages.Headers[index].Header.Flags & MSG_TRUNC) != 0 : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>
    /// One recvmmsg: waits (up to the socket's receive timeout) for the first datagram, then takes what is already
    /// queued, up to <see cref="Capacity"/>. Returns the count; 0 when the timeout passed or a signal interrupted.
    /// </summary>
    public int Receive(UdpSocket socket, bool wait = true)
    {
        ArgumentNullException.ThrowIfNull(socket);
        MMsgHdr* headers = _messages.Headers;
        ObjectDisposedException.ThrowIf(headers == null, this);
        for (int i = 0; i < Capacity; i++)
        {
            // The kernel overwrites these per datagram; reset them for the next call.
            headers[i].Header.ControlLength = (nuint)_messages.ControlBytesPerMessage;
            headers[i].Header.NameLength = (uint)_messages.NameBytesPerMessage;
            headers[i].Header.Flags = 0;
        }

        // MSG_WAITFORONE: block for the first datagram only. Without it a blocking recvmmsg waits for the whole batch.
        int flags = wait ? MSG_WAITFORONE : MSG_DONTWAIT;
        LastStatus = DangerousReceiveMessages(socket.Handle, headers, (uint)Capacity, flags, out int received);
        Count = received;

        int truncated = 0;
        for (int i = 0; i < received; i++)
        {
            MsgHdr* header = &headers[i].Header;
            if ((header->Flags & MSG_TRUNC) != 0)
            {
                truncated++;
            }

            if (header->ControlLength != 0)
            {
                ReadDropCounter(header);
            }
        }

        TruncatedCount = truncated;
        return received;
    }

    public void Dispose() => _messages.Dispose();

    private void ReadDropCounter(MsgHdr* header)
    {
        byte* cursor = (byte*)header->Control;
        byte* end = cursor + header->ControlLength;
        while (cursor + sizeof(CMsgHdr) <= end)
        {
            var cmsg = (CMsgHdr*)cursor;
            if (cmsg->Length < (nuint)sizeof(CMsgHdr))
            {
                return;
            }

            if (cmsg->Level == SOL_SOCKET && cmsg->Type == SO_RXQ_OVFL && cmsg->Length >= (nuint)(sizeof(CMsgHdr) + sizeof(uint)))
            {
                KernelDrops = *(uint*)(cursor + sizeof(CMsgHdr));
            }

            // CMSG_NXTHDR: lengths are rounded up to the size of a pointer.
            cursor += (cmsg->Length + (nuint)sizeof(nuint) - 1) & ~((nuint)sizeof(nuint) - 1);
        }
    }
}
