using System.Runtime.InteropServices;
using static Klais.Net.Interop.Libc;

namespace Klais.Net;

/// <summary>
/// One native block holding <c>count</c> mmsghdrs, each with one iovec over its own datagram buffer, an optional
/// control buffer and an optional address buffer (<c>msg_name</c>: where the kernel writes the sender). Native memory does not move, so the kernel can be handed the pointers directly and no pinning or
/// allocation happens per call. Shared by <see cref="ReceiveBatch"/> and <see cref="SendBatch"/>.
/// </summary>
internal sealed unsafe class NativeMessageArray : IDisposable
{
    private const int Alignment = 64;
    private byte* _block;

    public NativeMessageArray(int count, int maxDatagramBytes, int controlBytesPerMessage, int nameBytesPerMessage = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagramBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(controlBytesPerMessage);
        ArgumentOutOfRangeException.ThrowIfNegative(nameBytesPerMessage);

        Count = count;
        MaxDatagramBytes = maxDatagramBytes;
        ControlBytesPerMessage = Align(controlBytesPerMessage, sizeof(nuint));
        NameBytesPerMessage = Align(nameBytesPerMessage, sizeof(nuint));

        nuint headers = Align((nuint)(count * sizeof(MMsgHdr)));
        nuint iovecs = Align((nuint)(count * sizeof(IoVec)));
        nuint control = Align((nuint)(count * ControlBytesPerMessage));
        nuint names = Align((nuint)(count * NameBytesPerMessage));
        nuint buffers = (nuint)count * (nuint)Align(maxDatagramBytes, Alignment);
        nuint total = headers + iovecs + control + names + buffers;

        _block = (byte*)NativeMemory.AlignedAlloc(total, Alignment);
        NativeMemory.Clear(_block, total);
        Headers = (MMsgHdr*)_block;
        IoVec* iov = (IoVec*)(_block + headers);
        byte* controlBase = _block + headers + iovecs;
        byte* nameBase = controlBase + control;
        byte* bufferBase = nameBase + names;
        int bufferStride = Align(maxDatagramBytes, Alignment);

        for (int i = 0; i < count; i++)
        {
            iov[i].Base = bufferBase + ((nuint)i * (nuint)bufferStride);
            iov[i].Length = (nuint)maxDatagramBytes;
            Headers[i].Header.Iov = &iov[i];
            Headers[i].Header.IovLength = 1;
            Headers[i].Header.Control = ControlBytesPerMessage == 0 ? null : controlBase + (i * ControlBytesPerMessage);
            Headers[i].Header.Name = NameBytesPerMessage == 0 ? null : nameBase + (i * NameBytesPerMessage);
        }
    }

    ~NativeMessageArray() => Free();

    public int Count { get; }

    public int MaxDatagramBytes { get; }

    public int ControlBytesPerMessage { get; }

    public int NameBytesPerMessage { get; }

    public MMsgHdr* Headers { get; private set; }

    /// <summary>The whole buffer of message <paramref name="index"/>.</summary>
    public Span<byte> Buffer(int index)
    {
        ObjectDisposedException.ThrowIf(_block == null, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return new Span<byte>(Headers[index].Header.Iov->Base, MaxDatagramBytes);
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_block != null)
        {
            NativeMemory.AlignedFree(_block);
            _block = null;
            Headers = null;
        }
    }

    private static nuint Align(nuint value) => (value + Alignment - 1) & ~(nuint)(Alignment - 1);

    private static int Align(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);
}
