using static Klais.Net.Interop.Libc;

namespace Klais.Net;

/// <summary>
/// Buffers for sendmmsg to a connected socket: fill <see cref="GetBuffer"/>, set each length with
/// <see cref="SetLength"/>, then <see cref="Send"/>. Owned by one thread; a send allocates nothing.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    private readonly NativeMessageArray _messages;

    public SendBatch(int capacity, int maxDatagramBytes) =>
        _messages = new NativeMessageArray(capacity, maxDatagramBytes, controlBytesPerMessage: 0);

    public int Capacity => _messages.Count;

    public int MaxDatagramBytes => _messages.MaxDatagramBytes;

    /// <summary>The writable buffer of message <paramref name="index"/> (<see cref="MaxDatagramBytes"/> long).</summary>
    public Span<byte> GetBuffer(int index) => _messages.Buffer(index);

    /// <summary>How many bytes of message <paramref name="index"/>'s buffer are sent.</summary>
    public void SetLength(int index, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxDatagramBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _messages.Buffer(index); // bounds check
        _messages.Headers[index].Header.Iov->Length = (nuint)length;
    }

    /// <summary>Copies <paramref name="datagram"/> into message <paramref name="index"/> and sets its length.</summary>
    public void Set(int index, ReadOnlySpan<byte> datagram)
    {
        datagram.CopyTo(GetBuffer(index));
        SetLength(index, datagram.Length);
    }

    /// <summary>
    /// One sendmmsg of messages <paramref name="first"/> .. <paramref name="first"/>+<paramref name="count"/>-1.
    /// <paramref name="sent"/> may be less than <paramref name="count"/>: send the rest again.
    /// </summary>
    public TransferStatus Send(UdpSocket socket, int first, int count, out int sent)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(_messages.Headers == null, this);
        if (first < 0 || count < 0 || first + count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Messages {first}..{first + count} lie outside a batch of {Capacity}.");
        }

        if (count == 0)
        {
            sent = 0;
            return TransferStatus.Done;
        }

        return DangerousSendMessages(socket.Handle, _messages.Headers + first, (uint)count, 0, out sent);
    }

    public void Dispose() => _messages.Dispose();
}
