using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp;

/// <summary>Owns a file descriptor of a BPF program, map or namespace; releasing it closes the descriptor.</summary>
internal sealed class SafeBpfFdHandle : SafeFileDescriptorHandle
{
    public SafeBpfFdHandle()
    {
    }

    internal SafeBpfFdHandle(int fd)
        : base(fd)
    {
    }
}

/// <summary>Owns a pointer to a libbpf object; releasing it calls the matching free function once.</summary>
internal abstract class SafeLibbpfPointer : SafeHandle
{
    protected SafeLibbpfPointer()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected abstract void Free(nint pointer);

    protected override bool ReleaseHandle()
    {
        Free(handle);
        return true;
    }
}

/// <summary>Owns a libbpf <c>struct bpf_object *</c>; releasing it calls <c>bpf_object__close</c>.</summary>
internal sealed class SafeBpfObjectHandle : SafeLibbpfPointer
{
    protected override void Free(nint pointer) => Interop.Libbpf.CloseObject(pointer);
}

/// <summary>Owns a libbpf <c>struct ring_buffer *</c>; releasing it calls <c>ring_buffer__free</c>.</summary>
internal sealed class SafeRingBufferHandle : SafeLibbpfPointer
{
    protected override void Free(nint pointer) => Interop.Libbpf.FreeRingBuffer(pointer);
}
