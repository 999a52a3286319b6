using System.Runtime.InteropServices;

namespace Klais.Net;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>A new datagram socket (close-on-exec) of <paramref name="family"/>, owned by the handle.</summary>
        internal static SafeUdpSocketHandle CreateDatagramSocket(int family)
        {
            int fd = Socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
            if (fd < 0)
            {
                throw new SocketOperationException("socket", Marshal.GetLastPInvokeError());
            }

            return new SafeUdpSocketHandle(fd);
        }

        /// <summary>close(2) for <see cref="SafeFileDescriptorHandle"/>; false when it failed.</summary>
        internal static bool CloseDescriptor(int fd) => Close(fd) == 0;

        /// <summary>setsockopt(2) with an int value; throws naming the option.</summary>
        internal static void SetIntOption(SafeUdpSocketHandle socket, int level, int name, int value, string optionName)
        {
            int errno = TrySetIntOption(socket, level, name, value);
            if (errno != 0)
            {
                throw new SocketOperationException($"setsockopt({optionName})", errno);
            }
        }

        /// <summary>setsockopt(2) with an int value; returns 0 or the errno, for options with a fallback.</summary>
        internal static unsafe int TrySetIntOption(SafeUdpSocketHandle socket, int level, int name, int value) =>
            SetSockOpt(socket, level, name, &value, sizeof(int)) == 0 ? 0 : Marshal.GetLastPInvokeError();

        internal static unsafe void SetTimeValOption(SafeUdpSocketHandle socket, int name, TimeSpan value, string optionName)
        {
            var tv = new TimeVal
            {
                Seconds = (long)value.TotalSeconds,
                Microseconds = value.Ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond,
            };
            if (SetSockOpt(socket, SOL_SOCKET, name, &tv, (uint)sizeof(TimeVal)) != 0)
            {
                throw new SocketOperationException($"setsockopt({optionName})", Marshal.GetLastPInvokeError());
            }
        }

        internal static unsafe int GetIntOption(SafeUdpSocketHandle socket, int level, int name, string optionName)
        {
            int value = 0;
            uint length = sizeof(int);
            if (GetSockOpt(socket, level, name, &value, &length) != 0)
            {
                throw new SocketOperationException($"getsockopt({optionName})", Marshal.GetLastPInvokeError());
            }

            return value;
        }

        internal static unsafe void DangerousBind(SafeUdpSocketHandle socket, void* address, uint length)
        {
            if (Bind(socket, address, length) != 0)
            {
                throw new SocketOperationException("bind", Marshal.GetLastPInvokeError());
            }
        }

        internal static unsafe void DangerousConnect(SafeUdpSocketHandle socket, void* address, uint length)
        {
            if (Connect(socket, address, length) != 0)
            {
                throw new SocketOperationException("connect", Marshal.GetLastPInvokeError());
            }
        }

        internal static unsafe void DangerousGetSockName(SafeUdpSocketHandle socket, void* address, uint* length)
        {
            if (GetSockName(socket, address, length) != 0)
            {
                throw new SocketOperationException("getsockname", Marshal.GetLastPInvokeError());
            }
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        private static partial int Socket(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        private static partial int Close(int fd);

        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        private static unsafe partial int SetSockOpt(SafeUdpSocketHandle socket, int level, int name, void* value, uint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "getsockopt", SetLastError = true)]
        private static unsafe partial int GetSockOpt(SafeUdpSocketHandle socket, int level, int name, void* value, uint* length);

        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        private static unsafe partial int Bind(SafeUdpSocketHandle socket, void* address, uint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "connect", SetLastError = true)]
        private static unsafe partial int Connect(SafeUdpSocketHandle socket, void* address, uint length);

        [LibraryImport(Libraries.Libc, EntryPoint = "getsockname", SetLastError = true)]
        private static unsafe partial int GetSockName(SafeUdpSocketHandle socket, void* address, uint* length);
    }
}
