using System.Runtime.InteropServices;

namespace Klais.Net;

// Layouts are those of Linux x86-64 / arm64 (LP64). Each struct names the C struct it mirrors;
// InteropStructTests checks the sizes and offsets against the C definitions.
internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Mirrors <c>struct iovec</c> (sys/uio.h).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct IoVec
        {
            public void* Base;
            public nuint Length;
        }

        /// <summary>Mirrors <c>struct msghdr</c> (sys/socket.h).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MsgHdr
        {
            public void* Name;
            public uint NameLength;
            public IoVec* Iov;
            public nuint IovLength;
            public void* Control;
            public nuint ControlLength;
            public int Flags;
        }

        /// <summary>Mirrors <c>struct mmsghdr</c> (sys/socket.h).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct MMsgHdr
        {
            public MsgHdr Header;
            public uint Length;
        }

        /// <summary>Mirrors <c>struct cmsghdr</c> (sys/socket.h); the data follows, aligned to <see cref="nuint"/>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct CMsgHdr
        {
            public nuint Length;
            public int Level;
            public int Type;
        }

        /// <summary>Mirrors <c>struct sockaddr_in</c> (netinet/in.h). Port and address in network byte order.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SockAddrIn
        {
            public ushort Family;
            public ushort Port;
            public uint Address;
            public fixed byte Zero[8];
        }

        /// <summary>Mirrors <c>struct sockaddr_in6</c> (netinet/in.h). Port in network byte order.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SockAddrIn6
        {
            public ushort Family;
            public ushort Port;
            public uint FlowInfo;
            public fixed byte Address[16];
            public uint ScopeId;
        }

        /// <summary>Mirrors <c>struct sockaddr_storage</c> (sys/socket.h): room for any address.</summary>
        [StructLayout(LayoutKind.Sequential, Size = 128)]
        internal struct SockAddrStorage
        {
            public ushort Family;
        }

        /// <summary>Mirrors <c>struct timeval</c> (sys/time.h), as SO_RCVTIMEO takes it.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct TimeVal
        {
            public long Seconds;
            public long Microseconds;
        }
    }
}
