using System.Runtime.InteropServices;

namespace Klais.Net;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>madvise(2) advice: back the range with transparent huge pages where possible.</summary>
        internal const int MadvHugePage = 14;

        /// <summary>glibc: returns free memory of the malloc arenas to the kernel; 1 when some was released.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "malloc_trim")]
        internal static partial int MallocTrim(nuint pad);

        [LibraryImport(Libraries.Libc, EntryPoint = "madvise", SetLastError = true)]
        internal static unsafe partial int MAdvise(void* address, nuint length, int advice);
    }
}
