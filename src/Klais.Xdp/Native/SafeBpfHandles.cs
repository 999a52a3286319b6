using System.Runtime.InteropServices;

namespace Klais.Xdp;

/// <summary>Owns a file descriptor of a BPF program, map or namespace; releasing it closes the descriptor.</summary>
internal sealed class SafeBpfFdHandle : SafeHandle
{
    public SafeBpfFdHandle()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    internal SafeBpfFdHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor number, valid while the handle is alive (callers keep it alive with AddRef or using).</summary>
    internal int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Libc.CloseDescriptor((int)handle);
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
