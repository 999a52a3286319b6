using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // Values from the Linux uapi headers (fcntl.h, time.h, sched.h); x86-64 and arm64 agree.
        private const int F_DUPFD_CLOEXEC = 1030;
        private const int CLOCK_MONOTONIC = 1;
        private const int CLONE_NEWNET = 0x40000000;

        /// <summary>A close-on-exec duplicate of <paramref name="fd"/>, owned by the handle.</summary>
        internal static SafeBpfFdHandle Duplicate(int fd, string operation)
        {
            if (fd < 0)
            {
                throw new BpfException(operation, Errnos.EBADF);
            }

            int copy = FcntlInt(fd, F_DUPFD_CLOEXEC, 3);
            return copy >= 0 ? new SafeBpfFdHandle(copy) : throw new BpfException($"fcntl(F_DUPFD_CLOEXEC) of {operation}", Marshal.GetLastPInvokeError());
        }

        /// <summary>if_nametoindex in the calling thread's network namespace; 0 when there is no such interface.</summary>
        internal static int InterfaceIndex(string name) => (int)IfNameToIndex(name);

        /// <summary>CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns, which blocklist expiry uses.</summary>
        internal static unsafe ulong MonotonicNanoseconds()
        {
            TimeSpec now;
            if (ClockGetTime(CLOCK_MONOTONIC, &now) != 0)
            {
                throw new BpfException("clock_gettime(CLOCK_MONOTONIC)", Marshal.GetLastPInvokeError());
            }

            return ((ulong)now.Seconds * 1_000_000_000UL) + (ulong)now.Nanoseconds;
        }

        /// <summary>setns(2) of the calling thread into the network namespace <paramref name="namespaceFd"/> refers to.</summary>
        internal static void EnterNetworkNamespace(SafeHandle namespaceFd, string path)
        {
            if (SetNs(namespaceFd, CLONE_NEWNET) != 0)
            {
                throw new BpfException($"setns({path}, CLONE_NEWNET)", Marshal.GetLastPInvokeError());
            }
        }

        /// <summary>vsnprintf for libbpf's print callback; returns the length the text wanted.</summary>
        internal static unsafe int FormatVarArgs(byte* buffer, int size, byte* format, nint args) =>
            VsnPrintF(buffer, (nuint)size, format, args);

        // fcntl is variadic; its third argument is an int here, which Linux x86-64 and arm64 pass like a fixed one.
        [LibraryImport(Libraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static partial int FcntlInt(int fd, int command, int argument);

        [LibraryImport(Libraries.Libc, EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
        private static partial uint IfNameToIndex(string name);

        [LibraryImport(Libraries.Libc, EntryPoint = "clock_gettime", SetLastError = true)]
        private static unsafe partial int ClockGetTime(int clock, TimeSpec* time);

        [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
        private static partial int SetNs(SafeHandle fd, int type);

        [LibraryImport(Libraries.Libc, EntryPoint = "vsnprintf")]
        private static unsafe partial int VsnPrintF(byte* buffer, nuint size, byte* format, nint args);

        /// <summary>Mirrors <c>struct timespec</c> (LP64).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Seconds;
            public long Nanoseconds;
        }
    }
}
