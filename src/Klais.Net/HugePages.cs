using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Klais.Net;

/// <summary>
/// Large lookup tables backed by transparent huge pages. A table that receive threads index at random (one device
/// per datagram) touches a different 4 KiB page at nearly every lookup once it is larger than the TLB covers, and
/// in a virtual machine each miss walks two page tables; in 2 MiB pages the same table needs a dozen TLB entries.
/// </summary>
public static class HugePages
{
    /// <summary>The x86-64 and arm64 (4 KiB base page) transparent huge page.</summary>
    public const int Size = 2 * 1024 * 1024;

    /// <summary>
    /// A zeroed array of <paramref name="length"/> elements, pinned (it never moves, so the advice stays with it),
    /// whose whole 2 MiB pages are advised to be huge pages (<c>madvise(MADV_HUGEPAGE)</c>). Pages are still given
    /// out as they are first touched, so an idle table costs no memory; what was touched before the advice (a
    /// reused heap region) stays in small pages until the kernel collapses it. <paramref name="advised"/> is false
    /// when the array holds no whole huge page, or the kernel refused the advice (transparent huge pages disabled:
    /// the table then works as before, in small pages).
    /// </summary>
    public static unsafe T[] AllocateArray<T>(int length, out bool advised)
        where T : unmanaged
    {
        T[] array = GC.AllocateArray<T>(length, pinned: true);
        nuint start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        nuint end = start + (nuint)length * (nuint)sizeof(T);
        nuint first = (start + Size - 1) & ~(nuint)(Size - 1);
        nuint last = end & ~(nuint)(Size - 1);
        advised = last > first && Interop.Libc.MAdvise((void*)first, last - first, Interop.Libc.MadvHugePage) == 0;
        return array;
    }
}
