using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        // BPF_ANY / BPF_NOEXIST / BPF_EXIST (uapi linux/bpf.h).
        internal const ulong UpdateAny = 0;
        internal const ulong UpdateNoExist = 1;
        internal const ulong UpdateExist = 2;

        /// <summary>bpf_map_update_elem; throws naming the map.</summary>
        internal static unsafe void DangerousUpdate(SafeBpfFdHandle map, string name, void* key, void* value, ulong flags)
        {
            int result = MapUpdateElem(map, key, value, flags);
            if (result < 0)
            {
                throw new BpfException($"bpf_map_update_elem({name})", Errnos.FromResult(result));
            }
        }

        /// <summary>bpf_map_lookup_elem: false when the key is absent, throws on any other error.</summary>
        internal static unsafe bool DangerousLookup(SafeBpfFdHandle map, string name, void* key, void* value)
        {
            int result = MapLookupElem(map, key, value);
            return result >= 0 || (Errnos.FromResult(result) == Errnos.ENOENT
                ? false
                : throw new BpfException($"bpf_map_lookup_elem({name})", Errnos.FromResult(result)));
        }

        /// <summary>bpf_map_delete_elem: false when the key was absent.</summary>
        internal static unsafe bool DangerousDelete(SafeBpfFdHandle map, string name, void* key)
        {
            int result = MapDeleteElem(map, key);
            return result >= 0 || (Errnos.FromResult(result) == Errnos.ENOENT
                ? false
                : throw new BpfException($"bpf_map_delete_elem({name})", Errnos.FromResult(result)));
        }

        /// <summary>bpf_map_get_next_key (<paramref name="key"/> null: the first key); false after the last one.</summary>
        internal static unsafe bool DangerousNextKey(SafeBpfFdHandle map, string name, void* key, void* nextKey)
        {
            int result = MapGetNextKey(map, key, nextKey);
            return result >= 0 || (Errnos.FromResult(result) == Errnos.ENOENT
                ? false
                : throw new BpfException($"bpf_map_get_next_key({name})", Errnos.FromResult(result)));
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_update_elem")]
        private static unsafe partial int MapUpdateElem(SafeBpfFdHandle fd, void* key, void* value, ulong flags);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_lookup_elem")]
        private static unsafe partial int MapLookupElem(SafeBpfFdHandle fd, void* key, void* value);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_delete_elem")]
        private static unsafe partial int MapDeleteElem(SafeBpfFdHandle fd, void* key);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_get_next_key")]
        private static unsafe partial int MapGetNextKey(SafeBpfFdHandle fd, void* key, void* nextKey);
    }
}
