using System.Runtime.InteropServices;

namespace Klais.Net;

/// <summary>
/// Owns a file descriptor; releasing the handle closes it. The base of the edge's descriptor handles: sockets here
/// (<see cref="SafeUdpSocketHandle"/>), BPF programs, maps and namespaces in Klais.Xdp.
/// </summary>
internal abstract class SafeFileDescriptorHandle : SafeHandle
{
    protected SafeFileDescriptorHandle()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    protected SafeFileDescriptorHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor number, valid while the handle is alive (callers keep it alive with AddRef or using).</summary>
    internal int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Libc.CloseDescriptor((int)handle);
}
