namespace Klais.Net;

/// <summary>Owns a socket file descriptor; closing the handle closes the socket.</summary>
internal sealed class SafeUdpSocketHandle : SafeFileDescriptorHandle
{
    public SafeUdpSocketHandle()
    {
    }

    internal SafeUdpSocketHandle(int fd)
        : base(fd)
    {
    }
}
