using System.Runtime.InteropServices;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>ring_buffer__new over the ring-buffer map; <paramref name="sample"/> runs on the polling thread.</summary>
        internal static unsafe SafeRingBufferHandle NewRingBuffer(
            SafeBpfFdHandle map, string name, delegate* unmanaged[Cdecl]<nint, void*, nuint, int> sample, nint context)
        {
            SafeRingBufferHandle handle = RingBufferNew(map, sample, context, null);
            if (handle.IsInvalid)
            {
                int errno = Marshal.GetLastPInvokeError();
                handle.Dispose();
                throw new BpfException($"ring_buffer__new({name})", errno);
            }

            return handle;
        }

        /// <summary>ring_buffer__poll: records consumed, or the negative errno (EINTR is not an error).</summary>
        internal static int PollRingBuffer(SafeRingBufferHandle ring, int timeoutMs) => RingBufferPoll(ring, timeoutMs);

        internal static void FreeRingBuffer(nint ring) => RingBufferFree(ring);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__new", SetLastError = true)]
        private static unsafe partial SafeRingBufferHandle RingBufferNew(
            SafeBpfFdHandle mapFd, delegate* unmanaged[Cdecl]<nint, void*, nuint, int> sample, nint context, void* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__poll")]
        private static partial int RingBufferPoll(SafeRingBufferHandle ring, int timeoutMs);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__free")]
        private static partial void RingBufferFree(nint ring);
    }
}
