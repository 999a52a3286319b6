namespace Klais.Net;

/// <summary>The process's native (malloc) heap.</summary>
public static class NativeHeap
{
    /// <summary>
    /// Gives the kernel back the malloc arenas' free pages (glibc <c>malloc_trim(0)</c>). Start-up leaves several MB
    /// of freed native memory behind (runtime, librdkafka); glibc returns only what sits at the top of the heap on
    /// its own. True when memory was released. A no-op returning false where the C library has no malloc_trim.
    /// </summary>
    public static bool Trim()
    {
        try
        {
            return Interop.Libc.MallocTrim(0) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }
}
