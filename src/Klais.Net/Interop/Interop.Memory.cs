using System.Runtime.InteropServices;

namespace Klais.Net;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>glibc: returns free memory of the malloc arenas to the kernel; 1 when some was released.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "malloc_trim")]
        internal static partial int MallocTrim(nuint pad);
    }
}
