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

    private const int CacheLine = 64;

    /// <summary>
    /// A zeroed table of <paramref name="length"/> elements that starts on a 2 MiB boundary (a cache line when it is
    /// smaller than 2 MiB), in pinned memory (it never moves, so the advice stays with it), whose whole 2 MiB pages are
    /// advised to be huge pages (<c>madvise(MADV_HUGEPAGE)</c>). Pages are still given out as they are first touched,
    /// so an idle table costs no memory; what was touched before the advice (a reused heap region) stays in small
    /// pages until the kernel collapses it. <see cref="HugePageTable{T}.Advised"/> is false when the table holds no
    /// whole huge page, or the kernel refused the advice (transparent huge pages disabled: the table then works as
    /// before, in small pages).
    /// </summary>
    /// <remarks>
    /// The boundary matters as much as the advice: an array's elements start 16 bytes into the object the runtime
    /// places, so a pinned array of 256-byte entries starts 56 bytes past a cache line, and each entry spans five lines
    /// instead of four. At a 2 MiB boundary every element whose size divides 64 or is a multiple of it sits on whole
    /// cache lines.
    /// </remarks>
    public static unsafe HugePageTable<T> Allocate<T>(int length)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = (long)length * sizeof(T);
        // A table smaller than a huge page cannot use one: it starts on a cache line instead of 2 MiB further.
        nuint alignment = bytes >= Size ? (nuint)Size : CacheLine;
        // Room to move the start to that boundary, in whole longs (the runtime places longs 8 bytes apart).
        long words = (bytes + (long)alignment + sizeof(long) - 1) / sizeof(long);
        if (words > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{bytes} bytes is more than one pinned table can hold.");
        }

        long[] memory = GC.AllocateArray<long>((int)words, pinned: true);
        nuint data = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(memory));
        nuint first = (data + alignment - 1) & ~(alignment - 1);
        nuint wholePages = (nuint)bytes & ~(nuint)(Size - 1);
        bool advised = wholePages > 0 && Interop.Libc.MAdvise((void*)first, wholePages, Interop.Libc.MadvHugePage) == 0;
        return new HugePageTable<T>(memory, (int)((first - data) / sizeof(long)), length, advised);
    }
}

/// <summary>
/// A fixed table of unmanaged elements in pinned memory, starting on a 2 MiB boundary or, when smaller, a cache line
/// (<see cref="HugePages.Allocate"/>). Indexed like an array, with bounds checks; zeroed when allocated.
/// </summary>
public sealed class HugePageTable<T>
    where T : unmanaged
{
    private readonly long[] _memory;
    private readonly int _start;

    internal HugePageTable(long[] memory, int start, int length, bool advised)
    {
        _memory = memory;
        _start = start;
        Length = length;
        Advised = advised;
    }

    /// <summary>Elements in the table.</summary>
    public int Length { get; }

    /// <summary>The table's whole 2 MiB pages are advised to be transparent huge pages.</summary>
    public bool Advised { get; }

    /// <summary>The address of the first element: a multiple of <see cref="HugePages.Size"/>, or of 64 for a table smaller than that.</summary>
    public unsafe nuint Address => (nuint)Unsafe.AsPointer(ref First);

    public ref T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Length)
            {
                ThrowOutOfRange(index);
            }

            return ref Unsafe.Add(ref First, index);
        }
    }

    private ref T First
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Unsafe.As<long, T>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_memory), _start));
    }

    /// <summary>The whole table as a span.</summary>
    public Span<T> AsSpan() => MemoryMarshal.CreateSpan(ref First, Length);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowOutOfRange(int index) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"The table holds {Length} elements.");
}
