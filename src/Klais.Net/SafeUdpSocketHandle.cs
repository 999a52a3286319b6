using System.Runtime.InteropServices;

namespace Klais.Net;

/// <summary>Owns a socket file descriptor; closing the handle closes the socket.</summary>
internal sealed class SafeUdpSocketHandle : SafeHandle
{
    public SafeUdpSocketHandle()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    internal SafeUdpSocketHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor number, for diagnostics.</summary>
    internal int Descriptor => (int)handle;

    protected override bool ReleaseHandle() => Interop.Libc.CloseDescriptor((int)handle);
}
