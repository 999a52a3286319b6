namespace Klais.Net;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // Values from the Linux uapi headers (asm-generic/socket.h, linux/in.h, linux/in6.h, linux/socket.h);
        // x86-64 and arm64 agree. errno values are in Errnos.
        internal const int AF_INET = 2;
        internal const int AF_INET6 = 10;
        internal const int SOCK_DGRAM = 2;
        internal const int SOCK_CLOEXEC = 0x80000;
        internal const int IPPROTO_UDP = 17;
        internal const int IPPROTO_IPV6 = 41;
        internal const int IPV6_V6ONLY = 26;

        internal const int SOL_SOCKET = 1;
        internal const int SO_SNDBUF = 7;
        internal const int SO_RCVBUF = 8;
        internal const int SO_REUSEPORT = 15;
        internal const int SO_RCVTIMEO = 20;
        internal const int SO_SNDBUFFORCE = 32;
        internal const int SO_RCVBUFFORCE = 33;
        internal const int SO_RXQ_OVFL = 40;

        internal const int MSG_TRUNC = 0x20;
        internal const int MSG_DONTWAIT = 0x40;
        internal const int MSG_WAITFORONE = 0x10000;
    }
}
